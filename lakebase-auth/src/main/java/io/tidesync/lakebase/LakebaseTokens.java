package io.tidesync.lakebase;

import com.databricks.sdk.WorkspaceClient;
import io.tidesync.ConfigurationException;
import io.tidesync.lakebase.internal.CredentialSource;
import io.tidesync.lakebase.internal.EndpointCredentials;
import io.tidesync.lakebase.internal.FixedTokenProvider;
import io.tidesync.lakebase.internal.HostTarget;
import io.tidesync.lakebase.internal.InstanceCredentials;
import io.tidesync.lakebase.internal.RefreshingTokenProvider;
import io.tidesync.lakebase.internal.SettingTokenProvider;
import io.tidesync.spi.TokenProvider;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * {@link TokenProvider}s for Lakebase, Databricks' managed PostgreSQL, whose logins take
 * short-lived OAuth database credentials (one hour, checked only at login).
 *
 * <pre>{@code
 * WorkspaceClient w = new WorkspaceClient();                      // the SDK's usual auth chain
 * TokenProvider tokens = LakebaseTokens.forInstance(w, "orders-db");              // provisioned
 * TokenProvider tokens = LakebaseTokens.forEndpoint(w,
 *     "projects/p/branches/production/endpoints/primary");                        // autoscaling
 * DataSource ds = LakebaseDataSource.builder().instance("orders-db").database("app")
 *     .user("sp-app@corp").tokens(tokens).build();
 * }</pre>
 *
 * <p>The SDK-backed providers cache the credential, refresh it when less than the refresh margin
 * (default {@value #DEFAULT_REFRESH_MARGIN_MINUTES} minutes) remains, or, for credentials that live
 * less than twice the margin, when a quarter of their life remains (so there is about one
 * credential call per credential lifetime, whatever the lifetime), let one thread refresh at a
 * time (the others keep the still-valid token, or wait when it has expired), retry throttling
 * (429), server errors (5xx, including 500, which the SDK does not retry for POST) and I/O failures
 * with exponential backoff, and fail at once on permission denied. A refresh that fails while the
 * cached token is still valid is logged at WARN and the cached token kept until it expires. They
 * are thread safe.
 * {@link TokenProvider#token()} may block for the duration of one credential call (plus retries).
 *
 * <p>Errors: {@link io.tidesync.AuthenticationException} when no credential can be had
 * (permission denied: not retryable; the API kept failing: retryable);
 * {@link ConfigurationException} when the instance or endpoint does not exist. Tokens never appear
 * in messages, logs or {@code toString()}. Keep the logger {@code com.databricks.sdk} at INFO or
 * above: at DEBUG the SDK logs the start of credential responses.
 */
public final class LakebaseTokens {
  /** Default refresh margin, in minutes, of the SDK-backed providers. */
  public static final int DEFAULT_REFRESH_MARGIN_MINUTES = 5;

  /** Environment variable {@link #fromEnvironment()} reads. */
  public static final String TOKEN_VARIABLE = "LAKEBASE_TOKEN";

  private LakebaseTokens() {}

  /**
   * Credentials of a provisioned instance ({@code w.database().generateDatabaseCredential}, with a
   * fresh request id each call), with the default refresh margin and retries. No I/O until the
   * first {@link TokenProvider#token()}.
   */
  public static TokenProvider forInstance(WorkspaceClient workspace, String instanceName) {
    return builder().instance(workspace, instanceName).build();
  }

  /**
   * Credentials of an autoscaling endpoint ({@code w.postgres().generateDatabaseCredential}), named
   * {@code projects/<project>/branches/<branch>/endpoints/<endpoint>}, with the default refresh
   * margin and retries. No I/O until the first {@link TokenProvider#token()}.
   */
  public static TokenProvider forEndpoint(WorkspaceClient workspace, String endpointName) {
    return builder().endpoint(workspace, endpointName).build();
  }

  /** A token that never changes and is assumed valid forever (tests, one-off scripts). */
  public static TokenProvider fixed(String token) {
    return fixed(token, Instant.MAX);
  }

  /** A token that never changes; after {@code expiresAt} every call fails. */
  public static TokenProvider fixed(String token, Instant expiresAt) {
    requireToken(token, "fixed(..)");
    return new FixedTokenProvider(new TokenProvider.Token(token, Objects.requireNonNull(expiresAt, "expiresAt")),
        Clock.systemUTC());
  }

  /**
   * For local runs: the token in environment variable {@value #TOKEN_VARIABLE}, e.g. from
   * {@code databricks database generate-database-credential}. Read at every call.
   */
  public static TokenProvider fromEnvironment() {
    return fromEnvironment(TOKEN_VARIABLE);
  }

  /** For local runs: the token in environment variable {@code variable}, read at every call. */
  public static TokenProvider fromEnvironment(String variable) {
    Objects.requireNonNull(variable, "variable");
    return new SettingTokenProvider("environment variable " + variable, () -> System.getenv(variable), Clock.systemUTC());
  }

  /**
   * The token under {@code key} of a host's configuration map (read at every call, so a mutable
   * map may be updated in place).
   */
  public static TokenProvider fromConfig(Map<String, String> config, String key) {
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(key, "key");
    return new SettingTokenProvider("configuration key " + key, () -> config.get(key), Clock.systemUTC());
  }

  /**
   * The token in a file, re-read at every call: an external agent (a sidecar, a cron job) may
   * replace the file to rotate it.
   */
  public static TokenProvider fromFile(Path file) {
    Objects.requireNonNull(file, "file");
    return new SettingTokenProvider("token file " + file, () -> {
      try {
        return Files.readString(file, StandardCharsets.UTF_8);
      } catch (NoSuchFileException e) {
        return null;
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read token file " + file + ": " + e.getClass().getSimpleName(), e);
      }
    }, Clock.systemUTC());
  }

  /** Starts describing an SDK-backed provider with non-default refresh or retry settings. */
  public static Builder builder() {
    return new Builder();
  }

  private static void requireToken(String token, String where) {
    if (token == null || token.isBlank()) {
      throw new ConfigurationException("lakebase tokens: cannot use " + where + ": the token is empty. Pass a database credential");
    }
  }

  /**
   * Settings of an SDK-backed provider; {@link #build()} validates them all at once and does no
   * I/O. Not thread safe.
   *
   * <pre>{@code
   * TokenProvider tokens = LakebaseTokens.builder()
   *     .instance(w, "orders-db")
   *     .refreshMargin(Duration.ofMinutes(10))
   *     .retries(6, Duration.ofMillis(250), Duration.ofSeconds(10))
   *     .build();
   * }</pre>
   */
  public static final class Builder {
    private WorkspaceClient workspace;
    private HostTarget target;
    private int targets;
    private Duration refreshMargin = Duration.ofMinutes(DEFAULT_REFRESH_MARGIN_MINUTES);
    private Clock clock = Clock.systemUTC();
    private int maxAttempts = 5;
    private Duration initialBackoff = Duration.ofMillis(200);
    private Duration maxBackoff = Duration.ofSeconds(10);

    private Builder() {}

    /** Credentials of a provisioned instance. */
    public Builder instance(WorkspaceClient workspace, String instanceName) {
      this.workspace = workspace;
      this.target = HostTarget.instance(instanceName);
      targets++;
      return this;
    }

    /** Credentials of an autoscaling endpoint {@code projects/p/branches/b/endpoints/e}. */
    public Builder endpoint(WorkspaceClient workspace, String endpointName) {
      this.workspace = workspace;
      this.target = HostTarget.endpoint(endpointName);
      targets++;
      return this;
    }

    /**
     * Refresh when less than this remains of the token's life (default 5 minutes). Larger margins
     * ride out longer API outages. For tokens that live less than twice this margin, a quarter of
     * their observed life is used instead, so short-lived tokens are not refreshed on every call.
     */
    public Builder refreshMargin(Duration margin) {
      this.refreshMargin = margin;
      return this;
    }

    /** The clock expiry is judged by (default: the system clock); tests inject their own. */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /**
     * Attempts per refresh (default 5) for throttling, server errors and I/O failures, with the
     * first wait (default 200 ms, doubling, with jitter) up to the longest wait (default 10 s).
     */
    public Builder retries(int maxAttempts, Duration initialBackoff, Duration maxBackoff) {
      this.maxAttempts = maxAttempts;
      this.initialBackoff = initialBackoff;
      this.maxBackoff = maxBackoff;
      return this;
    }

    /**
     * The provider.
     *
     * @throws ConfigurationException listing every problem
     */
    public TokenProvider build() {
      List<String> problems = new ArrayList<>();
      if (targets == 0) {
        problems.add("no target: call instance(w, name) or endpoint(w, name)");
      } else if (targets > 1) {
        problems.add("both or several targets given: call exactly one of instance(..) and endpoint(..)");
      }
      if (target != null && workspace == null) {
        problems.add("the WorkspaceClient is null: pass new WorkspaceClient() or one configured for the workspace");
      }
      if (target != null && (target.name() == null || target.name().isBlank())) {
        problems.add(target.kind() == HostTarget.Kind.INSTANCE ? "the instance name is empty" : "the endpoint name is empty");
      } else if (target != null && target.kind() == HostTarget.Kind.ENDPOINT
          && !target.name().matches("projects/[^/]+/branches/[^/]+/endpoints/[^/]+")) {
        problems.add("endpoint '" + target.name() + "' is not of the form projects/<project>/branches/<branch>/endpoints/<endpoint>");
      }
      if (refreshMargin == null || refreshMargin.isNegative() || refreshMargin.compareTo(Duration.ofMinutes(55)) > 0) {
        problems.add("refreshMargin must be between 0 and 55 minutes (tokens live one hour)");
      }
      if (clock == null) {
        problems.add("clock is null");
      }
      if (maxAttempts < 1) {
        problems.add("maxAttempts is " + maxAttempts + ": it must be at least 1");
      }
      if (initialBackoff == null || initialBackoff.isNegative() || maxBackoff == null
          || maxBackoff.compareTo(initialBackoff == null ? Duration.ZERO : initialBackoff) < 0) {
        problems.add("retry backoff must be non-negative, with the longest wait at least the first");
      }
      if (!problems.isEmpty()) {
        throw ConfigurationException.of("lakebase tokens", problems);
      }
      CredentialSource source = target.kind() == HostTarget.Kind.INSTANCE
          ? new InstanceCredentials(workspace, target.name(), clock)
          : new EndpointCredentials(workspace, target.name(), clock);
      return new RefreshingTokenProvider(source, workspace, target, clock, refreshMargin, maxAttempts, initialBackoff,
          maxBackoff);
    }
  }
}
