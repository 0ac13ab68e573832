package io.tidesync.lakebase.internal;

import com.databricks.sdk.WorkspaceClient;
import io.tidesync.AuthenticationException;
import io.tidesync.ConfigurationException;
import io.tidesync.TidesyncException;
import io.tidesync.spi.TokenProvider;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Caches the credential of a {@link CredentialSource} and refreshes it ahead of expiry.
 *
 * <p>{@link #token()} returns the cached token until its refresh time: its expiry minus the
 * refresh margin, or, for a token whose observed life (from its arrival to its expiry) is less
 * than twice the margin, minus a quarter of that life. So a token is used for at least half of
 * its life and there is about one credential call per token lifetime whatever the lifetime.
 * After the refresh time one caller refreshes (the others keep using the still-valid token); once
 * the token has expired or was invalidated, callers wait for the one refresh in flight.
 * Throttling (429), server errors (5xx) and I/O failures are retried with exponential backoff and
 * jitter; permission denied and unknown instances fail at once. A refresh that fails, for any
 * reason, while the cached token is still valid is logged at WARN and the cached token returned,
 * so a passing outage costs nothing until the token really expires.
 *
 * <p>The cached token and its refresh time are one immutable value swapped atomically, so a
 * caller never sees one without the other, and a token invalidated while a caller waits for the
 * refresh lock is simply refreshed.
 */
public final class RefreshingTokenProvider implements TokenProvider {
  private static final Logger LOG = LoggerFactory.getLogger(RefreshingTokenProvider.class);

  private final CredentialSource source;
  private final WorkspaceClient workspace; // null for sources not backed by the SDK
  private final HostTarget target;
  private final Clock clock;
  private final Duration refreshMargin;
  private final int maxAttempts;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final ReentrantLock refreshLock = new ReentrantLock();
  private final AtomicLong fetches = new AtomicLong();
  private final AtomicBoolean shortLifeReported = new AtomicBoolean();
  private volatile Cached current;

  /** A token and the instant from which callers should refresh it. */
  private record Cached(Token token, Instant refreshAt) {
    boolean isFreshAt(Instant now) {
      return now.isBefore(refreshAt);
    }
  }

  public RefreshingTokenProvider(CredentialSource source, WorkspaceClient workspace, HostTarget target, Clock clock,
      Duration refreshMargin, int maxAttempts, Duration initialBackoff, Duration maxBackoff) {
    this.source = source;
    this.workspace = workspace;
    this.target = target;
    this.clock = clock;
    this.refreshMargin = refreshMargin;
    this.maxAttempts = maxAttempts;
    this.initialBackoff = initialBackoff;
    this.maxBackoff = maxBackoff;
  }

  @Override
  public Token token() {
    Cached c = current; // read before the clock: the state may change between the two
    Instant now = clock.instant();
    if (c != null && c.isFreshAt(now)) {
      return c.token();
    }
    if (c != null && c.token().isValidAt(now)) {
      // past the refresh time but still valid: one caller refreshes, the others carry on
      if (!refreshLock.tryLock()) {
        return c.token();
      }
      try {
        Cached again = current; // null if the token was invalidated meanwhile
        if (again != null && again != c && again.isFreshAt(clock.instant())) {
          return again.token();
        }
        return refresh().token();
      } catch (TidesyncException e) {
        if (current == c && c.token().isValidAt(clock.instant())) {
          LOG.warn("{}: cannot refresh the database credential ahead of expiry, using the current one until {}: {}",
              source.describe(), c.token().expiresAt(), e.getMessage());
          return c.token();
        }
        throw e;
      } finally {
        refreshLock.unlock();
      }
    }
    // none yet, expired or invalidated: wait for the refresh in flight, or do it
    refreshLock.lock();
    try {
      Cached again = current;
      if (again != null && again.isFreshAt(clock.instant())) {
        return again.token();
      }
      return refresh().token();
    } finally {
      refreshLock.unlock();
    }
  }

  @Override
  public void invalidate(Token rejected) {
    refreshLock.lock();
    try {
      Cached c = current;
      if (c != null && rejected != null && c.token().value().equals(rejected.value())) {
        current = null;
        LOG.info("{}: the database rejected the current credential (expires {}); the next login fetches a new one",
            source.describe(), c.token().expiresAt());
      }
    } finally {
      refreshLock.unlock();
    }
  }

  /** Credential requests made so far (attempts that failed included). */
  public long fetchCount() {
    return fetches.get();
  }

  /** The SDK client behind this provider, if any: lets a DataSource resolve the host. */
  public Optional<WorkspaceClient> workspace() {
    return Optional.ofNullable(workspace);
  }

  /** The instance or endpoint this provider's credentials are for, if known. */
  public Optional<HostTarget> target() {
    return Optional.ofNullable(target);
  }

  public String describe() {
    return source.describe();
  }

  /**
   * The margin before expiry at which a token that arrived at {@code arrived} is refreshed: the
   * configured margin while that leaves at least half of the token's life in use, otherwise a
   * quarter of its life. A fixed margin longer than the life would refresh on every call.
   */
  private Duration effectiveMargin(Token t, Instant arrived) {
    Duration life = Duration.between(arrived, t.expiresAt());
    if (refreshMargin.multipliedBy(2).compareTo(life) <= 0) {
      return refreshMargin;
    }
    Duration quarter = life.dividedBy(4);
    if (shortLifeReported.compareAndSet(false, true)) {
      LOG.info("{}: database credentials live {} ms, less than twice the refresh margin {} ms; each is refreshed when"
          + " a quarter of its life remains", source.describe(), life.toMillis(), refreshMargin.toMillis());
    }
    return quarter;
  }

  /** Called with the lock held. */
  private Cached refresh() {
    Duration backoff = initialBackoff;
    for (int attempt = 1; ; attempt++) {
      try {
        fetches.incrementAndGet();
        Token t = source.fetch();
        Instant now = clock.instant();
        if (!t.isValidAt(now)) {
          throw new AuthenticationException(source.describe() + ": cannot use the new database credential: it expired at "
              + t.expiresAt() + ", before it arrived (now " + now + "). Check the clock of this machine", null, true);
        }
        Cached fresh = new Cached(t, t.expiresAt().minus(effectiveMargin(t, now)));
        current = fresh;
        LOG.debug("{}: new database credential, valid until {}, refreshed from {}", source.describe(), t.expiresAt(),
            fresh.refreshAt());
        return fresh;
      } catch (CredentialCallException e) {
        switch (e.kind()) {
          case PERMISSION_DENIED -> throw new AuthenticationException(source.describe()
              + ": cannot generate a database credential: permission denied (" + e.getMessage()
              + "). Grant this identity access to the database (or use one that has it)", e, false);
          case NOT_FOUND -> throw new ConfigurationException(source.describe()
              + ": cannot generate a database credential: it does not exist (" + e.getMessage()
              + "). Check the name and the workspace");
          case FATAL -> throw new AuthenticationException(source.describe()
              + ": cannot generate a database credential: " + e.getMessage() + ". Check the request and the SDK configuration", e, false);
          default -> {
            if (attempt >= maxAttempts) {
              throw new AuthenticationException(source.describe() + ": cannot generate a database credential: "
                  + e.getMessage() + ", " + attempt + " attempts. Try again later, or check the workspace's status", e, true);
            }
            long sleep = jittered(backoff);
            LOG.warn("{}: credential request failed ({}), attempt {} of {}; retrying in {} ms",
                source.describe(), e.getMessage(), attempt, maxAttempts, sleep);
            pause(sleep);
            backoff = backoff.multipliedBy(2).compareTo(maxBackoff) > 0 ? maxBackoff : backoff.multipliedBy(2);
          }
        }
      }
    }
  }

  private static long jittered(Duration backoff) {
    long ms = backoff.toMillis();
    return ms <= 1 ? ms : ms / 2 + ThreadLocalRandom.current().nextLong(ms / 2 + 1);
  }

  private void pause(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AuthenticationException(source.describe()
          + ": cannot generate a database credential: interrupted while waiting to retry. Retry the operation", e, true);
    }
  }

  @Override
  public String toString() {
    Cached c = current;
    return "RefreshingTokenProvider[" + source.describe() + ", refreshMargin=" + refreshMargin
        + (c == null ? ", no token" : ", token valid until " + c.token().expiresAt()) + "]";
  }
}
