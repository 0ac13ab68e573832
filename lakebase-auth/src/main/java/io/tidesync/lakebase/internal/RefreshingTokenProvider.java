package io.tidesync.lakebase.internal;

import com.databricks.sdk.WorkspaceClient;
import io.tidesync.AuthenticationException;
import io.tidesync.ConfigurationException;
import io.tidesync.spi.TokenProvider;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Caches the credential of a {@link CredentialSource} and refreshes it ahead of expiry.
 *
 * <p>{@link #token()} returns the cached token while more than the refresh margin remains. Inside
 * the margin one caller refreshes (the others keep using the still-valid token); once the token
 * has expired, callers wait for the one refresh in flight. Throttling (429), server errors (5xx)
 * and I/O failures are retried with exponential backoff and jitter; permission denied fails at
 * once. A refresh that fails while the old token is still valid is logged and the old token
 * returned, so a passing outage costs nothing until the token really expires.
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
  private volatile Token current;

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
    Token t = current;
    Instant now = clock.instant();
    if (t != null && !needsRefresh(t, now)) {
      return t;
    }
    if (t != null && t.isValidAt(now)) {
      // inside the margin but still valid: one caller refreshes, the others carry on
      if (!refreshLock.tryLock()) {
        return t;
      }
      try {
        Token again = current;
        if (again != t && !needsRefresh(again, clock.instant())) {
          return again;
        }
        return refresh();
      } catch (AuthenticationException e) {
        if (t.isValidAt(clock.instant())) {
          LOG.warn("{}: cannot refresh the database credential ahead of expiry, using the current one until {}: {}",
              source.describe(), t.expiresAt(), e.getMessage());
          return t;
        }
        throw e;
      } finally {
        refreshLock.unlock();
      }
    }
    // none yet, or expired: wait for the refresh in flight, or do it
    refreshLock.lock();
    try {
      Token again = current;
      if (again != null && !needsRefresh(again, clock.instant())) {
        return again;
      }
      return refresh();
    } finally {
      refreshLock.unlock();
    }
  }

  @Override
  public void invalidate(Token rejected) {
    refreshLock.lock();
    try {
      Token t = current;
      if (t != null && rejected != null && t.value().equals(rejected.value())) {
        current = null;
        LOG.info("{}: the database rejected the current credential (expires {}); the next login fetches a new one",
            source.describe(), t.expiresAt());
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

  private boolean needsRefresh(Token t, Instant now) {
    return !now.isBefore(t.expiresAt().minus(refreshMargin));
  }

  /** Called with the lock held. */
  private Token refresh() {
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
        if (needsRefresh(t, now)) {
          LOG.warn("{}: the new database credential lives until {}, less than the refresh margin {}; every call will "
              + "refresh it. Lower the refresh margin", source.describe(), t.expiresAt(), refreshMargin);
        }
        current = t;
        LOG.debug("{}: new database credential, valid until {}", source.describe(), t.expiresAt());
        return t;
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
    Token t = current;
    return "RefreshingTokenProvider[" + source.describe() + ", refreshMargin=" + refreshMargin
        + (t == null ? ", no token" : ", token valid until " + t.expiresAt()) + "]";
  }
}
