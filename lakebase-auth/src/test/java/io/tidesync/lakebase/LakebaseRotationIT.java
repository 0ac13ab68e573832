package io.tidesync.lakebase;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import com.databricks.sdk.WorkspaceClient;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.tidesync.ConfigurationException;
import io.tidesync.spi.TokenProvider;
import io.tidesync.testkit.databricks.FakeDatabricksApi;
import io.tidesync.testkit.databricks.FakeDatabricksApi.IssuedCredential;
import io.tidesync.testkit.databricks.FakeDatabricksApi.Route;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLInvalidAuthorizationSpecException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.replication.ReplicationSlotInfo;
import org.slf4j.LoggerFactory;

/**
 * Rotation end to end: an embedded PostgreSQL with password authentication whose role password is
 * set, with {@code VALID UNTIL}, to each token the fake Databricks API issues (so, as on Lakebase,
 * only the newest unexpired token logs in).
 */
class LakebaseRotationIT {
  static final String INSTANCE = "orders-db";
  static PasswordPostgres pg;
  /** Every token any fake of this class issued, for the secrecy checks. */
  static final Set<String> ALL_TOKENS = ConcurrentHashMap.newKeySet();

  FakeDatabricksApi api;

  @BeforeAll
  static void startPostgres() {
    pg = new PasswordPostgres();
  }

  @AfterAll
  static void stopPostgres() throws Exception {
    pg.close();
  }

  @AfterEach
  void stopApi() {
    if (api != null) {
      api.close();
    }
  }

  WorkspaceClient startApi(Duration tokenLifetime) {
    api = FakeDatabricksApi.builder().instance(INSTANCE, "127.0.0.1").tokenLifetime(tokenLifetime)
        .onIssue(c -> {
          ALL_TOKENS.add(c.token());
          pg.rotate(c.token(), c.expiresAt());
        }).start();
    return LakebaseTokensTest.client(api);
  }

  LakebaseDataSource.Builder dataSource(TokenProvider tokens) {
    return LakebaseDataSource.builder().instance(INSTANCE).port(pg.port()).database(PasswordPostgres.DATABASE)
        .user(PasswordPostgres.ROLE).sslMode(SslMode.DISABLE).tokens(tokens);
  }

  /** Records each token handed out and when, to prove none was expired at login. */
  record Handed(TokenProvider.Token token, Instant at) {}

  static TokenProvider recording(TokenProvider delegate, List<Handed> log) {
    return new TokenProvider() {
      @Override
      public Token token() {
        Token t = delegate.token();
        log.add(new Handed(t, Instant.now()));
        return t;
      }

      @Override
      public void invalidate(Token rejected) {
        delegate.invalidate(rejected);
      }
    };
  }

  @Test
  void hikariPoolKeepsWorkingAcrossRotations() throws Exception {
    WorkspaceClient w = startApi(Duration.ofMillis(3500));
    // a token is fresh for 1 s, then refreshed by the next login; logins past 3.5 s would fail
    TokenProvider sdkTokens = LakebaseTokens.builder().instance(w, INSTANCE).refreshMargin(Duration.ofMillis(2500)).build();
    List<Handed> handed = new CopyOnWriteArrayList<>();
    LakebaseDataSource ds = dataSource(recording(sdkTokens, handed)).workspaceClient(w).build();
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE pool_work (id bigserial PRIMARY KEY, worker int NOT NULL)");
    }

    HikariConfig cfg = new HikariConfig();
    cfg.setDataSource(ds);
    cfg.setPoolName("lakebase-it");
    cfg.setMaximumPoolSize(4);
    cfg.setMinimumIdle(2);
    cfg.setConnectionTimeout(15_000);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong done = new AtomicLong();
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    List<Thread> workers = new ArrayList<>();
    try (HikariDataSource pool = new HikariDataSource(cfg)) {
      for (int i = 0; i < 3; i++) {
        int worker = i;
        Thread t = new Thread(() -> {
          while (!stop.get()) {
            try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
              s.execute("INSERT INTO pool_work (worker) VALUES (" + worker + ")");
              done.incrementAndGet();
            } catch (Throwable e) {
              failures.add(e);
            }
          }
        }, "pool-worker-" + i);
        t.start();
        workers.add(t);
      }
      // keep replacing physical connections until five more tokens have been issued
      int target = api.issued().size() + 5;
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(150)).until(() -> {
        pool.getHikariPoolMXBean().softEvictConnections();
        return api.issued().size() >= target;
      });
      stop.set(true);
      for (Thread t : workers) {
        t.join(20_000);
      }
    }
    assertThat(failures).isEmpty();
    assertThat(done.get()).isPositive();
    try (Connection c = pg.superuser(PasswordPostgres.DATABASE).getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM pool_work")) {
      rs.next();
      assertThat(rs.getLong(1)).isEqualTo(done.get());
    }
    assertThat(handed).allSatisfy(h -> assertThat(h.token().expiresAt()).as("a token handed out for a login").isAfter(h.at()));
    System.out.printf("rotation IT: %d tokens issued, %d logins, %d rows, %d logins rejected and retried%n",
        api.issued().size(), handed.size(), done.get(), ds.rejectedLogins());
  }

  @Test
  void tokensShorterThanTheRefreshMarginCauseNoStormOfCredentialCallsOrFailedLogins() throws Exception {
    WorkspaceClient w = startApi(Duration.ofSeconds(5));
    LakebaseDataSource ds = dataSource(LakebaseTokens.forInstance(w, INSTANCE)).build(); // default 5 minute margin
    ds.getConnection().close();
    int callsBefore = api.requestCount(Route.DATABASE_CREDENTIALS);
    long seconds = 12;
    long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
    AtomicLong logins = new AtomicLong();
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    List<Thread> workers = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      Thread t = new Thread(() -> {
        while (System.nanoTime() < deadline) {
          try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
            s.execute("SELECT 1");
            logins.incrementAndGet();
          } catch (Throwable e) {
            failures.add(e);
          }
        }
      }, "login-worker-" + i);
      t.start();
      workers.add(t);
    }
    for (Thread t : workers) {
      t.join(60_000);
    }
    int calls = api.requestCount(Route.DATABASE_CREDENTIALS) - callsBefore;
    System.out.printf("short tokens IT: 5 s tokens, 8 threads, %d s: %d logins, %d credential calls, %d logins rejected"
        + " and retried, %d failed%n", seconds, logins.get(), calls, ds.rejectedLogins(), failures.size());
    assertThat(failures).isEmpty();
    assertThat(logins.get()).isPositive();
    // about one call per three quarters of a token's life
    assertThat(calls).as("credential calls in " + seconds + " s of 5 s tokens").isBetween(2, 5);
  }

  @Test
  void aRejectedLoginIsRetriedOnceWithANewToken() throws Exception {
    WorkspaceClient w = startApi(Duration.ofHours(1));
    LakebaseDataSource ds = dataSource(LakebaseTokens.forInstance(w, INSTANCE)).build();
    try (Connection c = ds.getConnection()) {
      assertThat(c.isValid(5)).isTrue();
    }
    // another client obtains a credential: the role's password changes under our cached token
    LakebaseTokens.forInstance(w, INSTANCE).token();
    try (Connection c = ds.getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT current_user")) {
      rs.next();
      assertThat(rs.getString(1)).isEqualTo(PasswordPostgres.ROLE);
    }
    assertThat(ds.rejectedLogins()).isEqualTo(1);
    assertThat(api.requestCount(Route.DATABASE_CREDENTIALS)).isEqualTo(3);

    // a token the server never accepts: one retry, then a clear error without the token
    LakebaseDataSource wrong = dataSource(LakebaseTokens.fixed("not-the-password-4711")).workspaceClient(w).build();
    assertThatThrownBy(wrong::getConnection).isInstanceOf(SQLInvalidAuthorizationSpecException.class)
        .hasMessageStartingWith("lakebase instance 'orders-db': cannot log in as 'sp-app@corp' to 127.0.0.1:" + pg.port()
            + "/app: the server rejected a fresh credential too (")
        .hasMessageContaining("password authentication failed")
        .hasMessageEndingWith("Check that a Postgres role exists for this identity and that it may connect to the database")
        .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("28P01"))
        .satisfies(e -> assertThat(allText(e)).doesNotContain("not-the-password-4711"));
    assertThat(wrong.rejectedLogins()).isEqualTo(2);
  }

  @Test
  void replicationConnectionsForTheChangeSource() throws Exception {
    WorkspaceClient w = startApi(Duration.ofHours(1));
    LakebaseDataSource ds = dataSource(LakebaseTokens.forInstance(w, INSTANCE)).build().forReplication();
    assertThat(ds.isReplication()).isTrue();
    assertThat(ds.toString()).endsWith(", replication]");
    try (Connection c = ds.getConnection()) {
      PGConnection pgc = c.unwrap(PGConnection.class);
      ReplicationSlotInfo slot = pgc.getReplicationAPI().createReplicationSlot().logical()
          .withSlotName("lakebase_it_slot").withOutputPlugin("pgoutput").withTemporaryOption().make();
      assertThat(slot.getConsistentPoint()).isNotNull();
      assertThat(slot.getOutputPlugin()).isEqualTo("pgoutput");
    }
  }

  @Test
  void sslIsRequiredByDefaultAndPlainConnectionsOnlyToLoopback() {
    WorkspaceClient w = startApi(Duration.ofHours(1));
    LakebaseDataSource ds = LakebaseDataSource.builder().instance(INSTANCE).port(pg.port()).database("app")
        .user(PasswordPostgres.ROLE).tokens(LakebaseTokens.forInstance(w, INSTANCE)).build();
    // the embedded server has no SSL: the default sslmode=require refuses to go on without it
    assertThatThrownBy(ds::getConnection).isInstanceOf(SQLException.class).hasMessageContaining("SSL");

    assertThatThrownBy(() -> LakebaseDataSource.builder().host("instance-1.database.cloud.databricks.com").user("u")
        .tokens(LakebaseTokens.fixed("t")).sslMode(SslMode.DISABLE).build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("lakebase data source: invalid configuration (1 problem): 1) sslMode DISABLE with host"
            + " instance-1.database.cloud.databricks.com: Lakebase requires SSL; plain connections are allowed only to"
            + " loopback hosts (tests). Use SslMode.REQUIRE");
    assertThatThrownBy(() -> LakebaseDataSource.builder().build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("lakebase data source: invalid configuration (3 problems): 1) no host: call instance(..), endpoint(..)"
            + " or host(..); 2) no user: call user(..) with the Postgres role of this identity (its user name or"
            + " application id); 3) no tokens: call tokens(LakebaseTokens.forInstance(w, name)) or another TokenProvider");
  }

  @Test
  void noTokenTextInLogsToStringOrMessages() throws Exception {
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    ch.qos.logback.classic.Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    ch.qos.logback.classic.Logger ours = ctx.getLogger("io.tidesync");
    ch.qos.logback.classic.Logger sdk = ctx.getLogger("com.databricks.sdk");
    Level oursBefore = ours.getLevel();
    Level sdkBefore = sdk.getLevel();
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.setContext(ctx);
    appender.start();
    root.addAppender(appender);
    ours.setLevel(Level.DEBUG);   // our own DEBUG logging included
    sdk.setLevel(Level.INFO);     // the documented setting: the SDK at DEBUG leaks token prefixes
    List<String> texts = new ArrayList<>();
    try {
      WorkspaceClient w = startApi(Duration.ofMillis(3000));
      TokenProvider tokens = LakebaseTokens.builder().instance(w, INSTANCE).refreshMargin(Duration.ofMillis(2000))
          .retries(3, Duration.ofMillis(1), Duration.ofMillis(2)).build();
      LakebaseDataSource ds = dataSource(tokens).build();
      HikariConfig cfg = new HikariConfig();
      cfg.setDataSource(ds);
      cfg.setMaximumPoolSize(2);
      try (HikariDataSource pool = new HikariDataSource(cfg)) {
        int target = api.issued().size() + 2;
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).until(() -> {
          pool.getHikariPoolMXBean().softEvictConnections();
          try (Connection c = pool.getConnection()) {
            c.isValid(1);
          }
          return api.issued().size() >= target;
        });
        texts.add(pool.toString());
      }
      // a rejected login, a server error while refreshing, a permission error
      LakebaseTokens.forInstance(w, INSTANCE).token();
      ds.getConnection().close();
      TokenProvider other = LakebaseTokens.builder().instance(w, INSTANCE).retries(2, Duration.ofMillis(1), Duration.ofMillis(1)).build();
      api.failNext(Route.DATABASE_CREDENTIALS, 500, 1);
      texts.add(other.token().toString());
      api.failNext(Route.DATABASE_CREDENTIALS, 403, 1);
      TokenProvider denied = LakebaseTokens.forInstance(w, INSTANCE);
      try {
        denied.token();
      } catch (RuntimeException e) {
        texts.add(allText(e));
      }
      try {
        dataSource(LakebaseTokens.fixed(api.lastIssued().token() + "-stale")).workspaceClient(w).build().getConnection();
      } catch (SQLException e) {
        texts.add(allText(e));
      }
      texts.add(tokens.toString());
      texts.add(tokens.token().toString());
      texts.add(ds.toString());
      texts.add(ds.forReplication().toString());
      texts.add(api.lastIssued().toString());
      texts.add(w.config().toString());
    } finally {
      root.detachAppender(appender);
      ours.setLevel(oursBefore);
      sdk.setLevel(sdkBefore);
    }
    for (ILoggingEvent e : appender.list) {
      texts.add(e.getFormattedMessage());
      for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
        texts.add(t.getClassName() + ": " + t.getMessage());
      }
    }
    assertThat(appender.list).as("captured log events").isNotEmpty();
    assertThat(ALL_TOKENS).hasSizeGreaterThanOrEqualTo(4);
    for (String text : texts) {
      for (IssuedCredential c : api.issued()) {
        // the whole token, and any 12-character piece of its secret part
        assertThat(text).doesNotContain(c.token());
        String secret = c.token().substring(c.token().lastIndexOf('-') + 1);
        for (int i = 0; i + 12 <= secret.length(); i += 4) {
          assertThat(text).doesNotContain(secret.substring(i, i + 12));
        }
      }
    }
    System.out.printf("secrecy IT: %d log events and %d strings checked against %d tokens%n",
        appender.list.size(), texts.size(), api.issued().size());
  }

  static String allText(Throwable e) {
    StringBuilder sb = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      sb.append(t).append('\n');
      for (Throwable s : t.getSuppressed()) {
        sb.append(allText(s));
      }
    }
    return sb.toString();
  }
}
