package io.tidesync.lakebase;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.databricks.sdk.WorkspaceClient;
import com.databricks.sdk.core.DatabricksConfig;
import io.tidesync.AuthenticationException;
import io.tidesync.ConfigurationException;
import io.tidesync.lakebase.internal.RefreshingTokenProvider;
import io.tidesync.spi.TokenProvider;
import io.tidesync.spi.TokenProvider.Token;
import io.tidesync.testkit.databricks.FakeDatabricksApi;
import io.tidesync.testkit.databricks.FakeDatabricksApi.IssuedCredential;
import io.tidesync.testkit.databricks.FakeDatabricksApi.Route;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/** The real Databricks SDK client against {@link FakeDatabricksApi}. */
class LakebaseTokensTest {
  static final String INSTANCE = "orders-db";
  static final String ENDPOINT = "projects/p/branches/production/endpoints/primary";

  private final MutableClock clock = new MutableClock(Instant.parse("2026-03-01T12:00:00Z"));
  private FakeDatabricksApi api;

  @AfterEach
  void stop() {
    if (api != null) {
      api.close();
    }
  }

  private WorkspaceClient start(FakeDatabricksApi.Builder b) {
    api = b.instance(INSTANCE, "10.1.2.3").endpoint(ENDPOINT, "ep.example.internal").clock(clock).start();
    return client(api);
  }

  static WorkspaceClient client(FakeDatabricksApi api) {
    return new WorkspaceClient(new DatabricksConfig().setHost(api.url()).setToken("workspace-pat"));
  }

  private TokenProvider instanceTokens(WorkspaceClient w) {
    return LakebaseTokens.builder().instance(w, INSTANCE).clock(clock)
        .retries(4, Duration.ofMillis(1), Duration.ofMillis(5)).build();
  }

  @Test
  void provisionedInstanceTokenWithExpiryAndAFreshRequestIdPerCall() {
    WorkspaceClient w = start(FakeDatabricksApi.builder());
    TokenProvider tokens = instanceTokens(w);

    Token first = tokens.token();
    assertThat(first.value()).isEqualTo(api.lastIssued().token());
    assertThat(first.expiresAt()).isEqualTo(clock.instant().plus(Duration.ofHours(1)));
    assertThat(tokens.token()).isSameAs(first);
    assertThat(api.requestCount(Route.DATABASE_CREDENTIALS)).isEqualTo(1);

    clock.advance(Duration.ofMinutes(56));
    Token second = tokens.token();
    assertThat(second.value()).isNotEqualTo(first.value());
    List<IssuedCredential> issued = api.issued();
    assertThat(issued).hasSize(2);
    assertThat(issued.get(0).requestId()).isNotBlank().isNotEqualTo(issued.get(1).requestId());
  }

  @Test
  void autoscalingEndpointToken() {
    WorkspaceClient w = start(FakeDatabricksApi.builder().tokenLifetime(Duration.ofMinutes(30)));
    TokenProvider tokens = LakebaseTokens.builder().endpoint(w, ENDPOINT).clock(clock).build();
    Token t = tokens.token();
    assertThat(t.value()).isEqualTo(api.lastIssued().token());
    assertThat(api.lastIssued().route()).isEqualTo(Route.POSTGRES_CREDENTIALS);
    assertThat(t.expiresAt()).isEqualTo(clock.instant().plus(Duration.ofMinutes(30)));
  }

  @Test
  void hostIsLookedUpOnceFromTheInstanceOrTheEndpoint() throws SQLException {
    WorkspaceClient w = start(FakeDatabricksApi.builder());
    LakebaseDataSource byInstance = LakebaseDataSource.builder().instance(INSTANCE).database("app").user("sp-app@corp")
        .tokens(LakebaseTokens.forInstance(w, INSTANCE)).build();
    assertThat(api.requestCount(Route.DATABASE_INSTANCE)).as("build() does no I/O").isZero();
    assertThat(byInstance.jdbcUrl()).isEqualTo("jdbc:postgresql://10.1.2.3:5432/app");
    assertThat(byInstance.forReplication().jdbcUrl()).isEqualTo("jdbc:postgresql://10.1.2.3:5432/app");
    assertThat(api.requestCount(Route.DATABASE_INSTANCE)).isEqualTo(1);

    LakebaseDataSource byEndpoint = LakebaseDataSource.builder().user("sp-app@corp")
        .tokens(LakebaseTokens.forEndpoint(w, ENDPOINT)).build(); // target taken from the tokens
    assertThat(byEndpoint.jdbcUrl()).isEqualTo("jdbc:postgresql://ep.example.internal:5432/databricks_postgres");
    assertThat(byEndpoint.toString()).contains("endpoint '" + ENDPOINT + "'", "ep.example.internal", "sslmode=require");

    LakebaseDataSource missing = LakebaseDataSource.builder().instance("nope").user("u").workspaceClient(w)
        .tokens(LakebaseTokens.fixed("t")).build();
    assertThatThrownBy(missing::jdbcUrl).isInstanceOf(SQLException.class)
        .hasMessageStartingWith("lakebase instance 'nope': cannot resolve the host: it does not exist (HTTP 404 RESOURCE_DOES_NOT_EXIST")
        .hasCauseInstanceOf(ConfigurationException.class);
  }

  @Test
  void permissionDeniedFailsAtOnceWithAClearMessage() {
    WorkspaceClient w = start(FakeDatabricksApi.builder().failNext(Route.DATABASE_CREDENTIALS, 403, 1));
    TokenProvider tokens = instanceTokens(w);
    assertThatThrownBy(tokens::token).isInstanceOf(AuthenticationException.class)
        .hasMessageStartingWith("lakebase instance 'orders-db': cannot generate a database credential: permission denied (HTTP 403 PERMISSION_DENIED")
        .hasMessageEndingWith("Grant this identity access to the database (or use one that has it)")
        .satisfies(e -> assertThat(((AuthenticationException) e).isRetryable()).isFalse());
    assertThat(api.requestCount(Route.DATABASE_CREDENTIALS)).isEqualTo(1);
  }

  @Test
  void throttlingIsRetried() {
    // the SDK itself retries 429 (honouring Retry-After); ours catches what is left
    WorkspaceClient w = start(FakeDatabricksApi.builder().failNext(Route.DATABASE_CREDENTIALS, 429, 5));
    Token t = instanceTokens(w).token();
    assertThat(t.value()).isEqualTo(api.lastIssued().token());
    assertThat(api.requestCount(Route.DATABASE_CREDENTIALS)).isEqualTo(6);
  }

  @Test
  void internalServerErrorsAreRetriedByTheProvider() {
    WorkspaceClient w = start(FakeDatabricksApi.builder().failNext(Route.POSTGRES_CREDENTIALS, 500, 2));
    TokenProvider tokens = LakebaseTokens.builder().endpoint(w, ENDPOINT).clock(clock)
        .retries(4, Duration.ofMillis(1), Duration.ofMillis(5)).build();
    assertThat(tokens.token().value()).isEqualTo(api.lastIssued().token());
    assertThat(api.requestCount(Route.POSTGRES_CREDENTIALS)).isEqualTo(3);
  }

  @Test
  void persistentServerErrorsGiveUpWithARetryableError() {
    WorkspaceClient w = start(FakeDatabricksApi.builder().failNext(Route.DATABASE_CREDENTIALS, 500, 10));
    assertThatThrownBy(instanceTokens(w)::token).isInstanceOf(AuthenticationException.class)
        .hasMessage("lakebase instance 'orders-db': cannot generate a database credential: HTTP 500 INTERNAL_ERROR:"
            + " injected failure, 4 attempts. Try again later, or check the workspace's status")
        .satisfies(e -> assertThat(((AuthenticationException) e).isRetryable()).isTrue());
    assertThat(api.requestCount(Route.DATABASE_CREDENTIALS)).isEqualTo(4);
  }

  @Test
  void unknownInstanceIsAConfigurationError() {
    WorkspaceClient w = start(FakeDatabricksApi.builder());
    TokenProvider tokens = LakebaseTokens.builder().instance(w, "missing-db").clock(clock).build();
    assertThatThrownBy(tokens::token).isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("lakebase instance 'missing-db': cannot generate a database credential: it does not exist (HTTP 404")
        .hasMessageEndingWith("Check the name and the workspace");
  }

  @Test
  void refreshesAheadOfExpiryAndKeepsAValidTokenThroughAnOutage() {
    WorkspaceClient w = start(FakeDatabricksApi.builder());
    TokenProvider tokens = LakebaseTokens.builder().instance(w, INSTANCE).clock(clock)
        .refreshMargin(Duration.ofMinutes(10)).retries(2, Duration.ofMillis(1), Duration.ofMillis(1)).build();
    Token first = tokens.token();
    clock.advance(Duration.ofMinutes(49));
    assertThat(tokens.token()).isSameAs(first);
    assertThat(api.requestCount(Route.DATABASE_CREDENTIALS)).isEqualTo(1);

    // inside the margin, the API is down: the still-valid token keeps being served
    clock.advance(Duration.ofMinutes(2));
    api.failNext(Route.DATABASE_CREDENTIALS, 500, 2);
    assertThat(tokens.token()).isSameAs(first);
    assertThat(api.requestCount(Route.DATABASE_CREDENTIALS)).isEqualTo(3);

    // the API is back: refreshed before expiry
    Token second = tokens.token();
    assertThat(second.value()).isNotEqualTo(first.value());
    assertThat(second.expiresAt()).isEqualTo(clock.instant().plus(Duration.ofHours(1)));

    // an expired token is never handed out: past expiry with the API down, callers get an error
    clock.advance(Duration.ofMinutes(61));
    api.failNext(Route.DATABASE_CREDENTIALS, 503, 100);
    assertThatThrownBy(tokens::token).isInstanceOf(AuthenticationException.class)
        .hasMessageContaining("HTTP 503 TEMPORARILY_UNAVAILABLE");
  }

  @Test
  void hundredConcurrentCallersCauseOneCredentialRequest() throws Exception {
    WorkspaceClient w = start(FakeDatabricksApi.builder().responseDelay(Duration.ofMillis(300)));
    TokenProvider tokens = instanceTokens(w);
    int callers = 100;
    ExecutorService pool = Executors.newFixedThreadPool(callers);
    try {
      for (int round = 0; round < 2; round++) {
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Token>> results = new ArrayList<>();
        for (int i = 0; i < callers; i++) {
          Callable<Token> call = () -> {
            go.await();
            return tokens.token();
          };
          results.add(pool.submit(call));
        }
        go.countDown();
        Set<String> seen = new HashSet<>();
        for (Future<Token> f : results) {
          seen.add(f.get().value());
        }
        // round 0: everyone waits for the one request; round 1 (inside the margin): one caller
        // refreshes while the others keep the still-valid token
        assertThat(seen).contains(api.lastIssued().token()).hasSizeLessThanOrEqualTo(round + 1);
        assertThat(api.requestCount(Route.DATABASE_CREDENTIALS)).as("credential requests after round " + round)
            .isEqualTo(round + 1);
        clock.advance(Duration.ofMinutes(57)); // next round starts inside the refresh margin
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @ParameterizedTest(name = "{0} s tokens")
  @ValueSource(longs = {5, 20, 3600})
  void aboutOneCredentialCallPerTokenLifetimeWhateverTheLifetime(long lifetimeSeconds) throws Exception {
    Duration life = Duration.ofSeconds(lifetimeSeconds);
    WorkspaceClient w = start(FakeDatabricksApi.builder().tokenLifetime(life));
    TokenProvider tokens = LakebaseTokens.builder().instance(w, INSTANCE).clock(clock).build(); // 5 minute margin
    int threads = 8;
    int lifetimes = 12;
    int stepsPerLifetime = 40;
    Duration step = life.dividedBy(stepsPerLifetime);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      for (int i = 0; i < lifetimes * stepsPerLifetime; i++) {
        CountDownLatch go = new CountDownLatch(1);
        List<Future<List<Token>>> calls = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          calls.add(pool.submit(() -> {
            go.await();
            List<Token> got = new ArrayList<>();
            for (int k = 0; k < 5; k++) {
              got.add(tokens.token());
            }
            return got;
          }));
        }
        go.countDown();
        for (Future<List<Token>> f : calls) {
          assertThat(f.get()).allSatisfy(t -> assertThat(t.isValidAt(clock.instant())).isTrue());
        }
        clock.advance(step);
      }
    } finally {
      pool.shutdownNow();
    }
    int requests = api.requestCount(Route.DATABASE_CREDENTIALS);
    System.out.printf("%d s tokens, 8 threads, %d lifetimes: %d credential calls%n", lifetimeSeconds, lifetimes, requests);
    // each token serves at least half of its life (three quarters when it is shorter than twice the margin)
    assertThat(requests).as("credential calls over " + lifetimes + " token lifetimes")
        .isBetween(lifetimes, 2 * lifetimes + 1);
    if (lifetimeSeconds == 3600) {
      // long-lived tokens keep the configured margin: refreshed at the first step 5 minutes before expiry
      Instant refreshedAt = api.issued().get(1).expiresAt().minus(life);
      Instant marginStart = api.issued().get(0).expiresAt().minus(Duration.ofMinutes(5));
      assertThat(refreshedAt).isBetween(marginStart, marginStart.plus(step));
    }
  }

  @Test
  void aTokenInvalidatedWhileACallerWaitsForTheRefreshIsReplacedNotDereferenced() throws Exception {
    GatedClock gated = new GatedClock(clock);
    api = FakeDatabricksApi.builder().instance(INSTANCE, "10.1.2.3").clock(clock).start();
    TokenProvider tokens = LakebaseTokens.builder().instance(client(api), INSTANCE).clock(gated).build();
    Token first = tokens.token();
    clock.advance(Duration.ofMinutes(57)); // inside the refresh margin, still valid

    // the caller has read the cached token and stops at its next look at the clock ...
    AtomicReference<Object> outcome = new AtomicReference<>();
    Thread caller = new Thread(() -> {
      try {
        outcome.set(tokens.token());
      } catch (Throwable e) {
        outcome.set(e);
      }
    }, "token-caller");
    gated.stopNextCallOf(caller);
    caller.start();
    assertThat(gated.reached.await(10, TimeUnit.SECONDS)).isTrue();
    // ... while a rejected login invalidates that token; then the caller goes on into the refresh
    tokens.invalidate(first);
    gated.release.countDown();
    caller.join(10_000);

    assertThat(outcome.get()).isInstanceOf(Token.class);
    Token second = (Token) outcome.get();
    assertThat(second.value()).isNotEqualTo(first.value()).isEqualTo(api.lastIssued().token());
    assertThat(api.requestCount(Route.DATABASE_CREDENTIALS)).isEqualTo(2);
    assertThat(tokens.token()).isSameAs(second);
  }

  @ParameterizedTest(name = "HTTP {0}")
  @ValueSource(ints = {403, 404})
  void aNonRetryableErrorInsideTheMarginKeepsTheValidTokenUntilItExpires(int status) {
    WorkspaceClient w = start(FakeDatabricksApi.builder());
    TokenProvider tokens = instanceTokens(w);
    Token first = tokens.token();
    clock.advance(Duration.ofMinutes(57)); // inside the 5 minute margin

    List<ILoggingEvent> logged;
    try (CapturedLog log = CapturedLog.of(RefreshingTokenProvider.class)) {
      api.failNext(Route.DATABASE_CREDENTIALS, status, 1);
      assertThat(tokens.token()).isSameAs(first);
      logged = log.events();
    }
    assertThat(api.requestCount(Route.DATABASE_CREDENTIALS)).as("no retries of a non-retryable error").isEqualTo(2);
    assertThat(logged).anySatisfy(e -> {
      assertThat(e.getLevel()).isEqualTo(Level.WARN);
      assertThat(e.getFormattedMessage()).startsWith("lakebase instance 'orders-db': cannot refresh the database credential"
          + " ahead of expiry, using the current one until " + first.expiresAt() + ": lakebase instance 'orders-db':"
          + " cannot generate a database credential: ").contains("HTTP " + status);
    });

    // once the token has expired the error is the caller's
    clock.advance(Duration.ofMinutes(3));
    api.failNext(Route.DATABASE_CREDENTIALS, status, 1);
    if (status == 404) {
      assertThatThrownBy(tokens::token).isInstanceOf(ConfigurationException.class)
          .hasMessageStartingWith("lakebase instance 'orders-db': cannot generate a database credential: it does not exist"
              + " (HTTP 404 RESOURCE_DOES_NOT_EXIST")
          .hasMessageEndingWith("Check the name and the workspace");
    } else {
      assertThatThrownBy(tokens::token).isInstanceOf(AuthenticationException.class)
          .hasMessageStartingWith("lakebase instance 'orders-db': cannot generate a database credential: permission denied"
              + " (HTTP 403 PERMISSION_DENIED")
          .hasMessageEndingWith("Grant this identity access to the database (or use one that has it)");
    }
    // and when the API answers again, a new token is had
    assertThat(tokens.token().value()).isNotEqualTo(first.value()).isEqualTo(api.lastIssued().token());
  }

  @Test
  void builderListsEveryProblem() {
    assertThatThrownBy(() -> LakebaseTokens.builder().endpoint(null, "primary").refreshMargin(Duration.ofMinutes(90))
        .retries(0, Duration.ofSeconds(1), Duration.ZERO).build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("lakebase tokens: invalid configuration (5 problems): "
            + "1) the WorkspaceClient is null: pass new WorkspaceClient() or one configured for the workspace; "
            + "2) endpoint 'primary' is not of the form projects/<project>/branches/<branch>/endpoints/<endpoint>; "
            + "3) refreshMargin must be between 0 and 55 minutes (tokens live one hour); "
            + "4) maxAttempts is 0: it must be at least 1; "
            + "5) retry backoff must be non-negative, with the longest wait at least the first");
  }

  @Test
  void localTokensFromConfigAndFixedValues() {
    Map<String, String> config = new ConcurrentHashMap<>();
    TokenProvider fromConfig = LakebaseTokens.fromConfig(config, "lakebase.token");
    assertThatThrownBy(fromConfig::token).isInstanceOf(AuthenticationException.class)
        .hasMessage("configuration key lakebase.token: cannot read the database token: it is not set or empty."
            + " Set it to a credential from 'databricks database generate-database-credential'");
    config.put("lakebase.token", "local-dev-token\n");
    assertThat(fromConfig.token().value()).isEqualTo("local-dev-token");
    assertThat(fromConfig.token().expiresAt()).isEqualTo(Instant.MAX);

    // a JWT's exp claim gives the expiry
    long exp = Instant.now().plusSeconds(600).getEpochSecond();
    String jwt = "eyJhbGciOiJub25lIn0." + java.util.Base64.getUrlEncoder().withoutPadding()
        .encodeToString(("{\"exp\":" + exp + "}").getBytes()) + ".sig";
    config.put("lakebase.token", jwt);
    assertThat(fromConfig.token().expiresAt()).isEqualTo(Instant.ofEpochSecond(exp));

    TokenProvider expired = LakebaseTokens.fixed("old-token", Instant.parse("2020-01-01T00:00:00Z"));
    assertThatThrownBy(expired::token).isInstanceOf(AuthenticationException.class)
        .hasMessageStartingWith("fixed database token: cannot log in: the token expired at 2020-01-01T00:00:00Z.");
    assertThatThrownBy(() -> LakebaseTokens.fixed(" ")).isInstanceOf(ConfigurationException.class)
        .hasMessage("lakebase tokens: cannot use fixed(..): the token is empty. Pass a database credential");
  }

  /** A clock that stops one chosen thread at its next reading until the test releases it. */
  static final class GatedClock extends Clock {
    private final Clock delegate;
    private volatile Thread stopped;
    final CountDownLatch reached = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);

    GatedClock(Clock delegate) {
      this.delegate = delegate;
    }

    void stopNextCallOf(Thread thread) {
      this.stopped = thread;
    }

    @Override
    public Instant instant() {
      if (Thread.currentThread() == stopped) {
        stopped = null;
        reached.countDown();
        try {
          if (!release.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the test never released the clock");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException(e);
        }
      }
      return delegate.instant();
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  /** Log events of one logger while open. */
  static final class CapturedLog implements AutoCloseable {
    private final ch.qos.logback.classic.Logger logger;
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    private CapturedLog(ch.qos.logback.classic.Logger logger) {
      this.logger = logger;
      appender.setContext(logger.getLoggerContext());
      appender.start();
      logger.addAppender(appender);
    }

    static CapturedLog of(Class<?> type) {
      return new CapturedLog((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(type));
    }

    List<ILoggingEvent> events() {
      return List.copyOf(appender.list);
    }

    @Override
    public void close() {
      logger.detachAppender(appender);
    }
  }

  /** A clock tests move by hand. */
  static final class MutableClock extends Clock {
    private volatile Instant now;

    MutableClock(Instant start) {
      this.now = start;
    }

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
