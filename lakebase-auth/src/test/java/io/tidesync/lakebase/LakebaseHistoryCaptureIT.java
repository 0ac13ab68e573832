package io.tidesync.lakebase;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.databricks.sdk.WorkspaceClient;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.tidesync.SyncMode;
import io.tidesync.SyncPipeline;
import io.tidesync.SyncStatus;
import io.tidesync.delta.sink.DeltaHistorySink;
import io.tidesync.delta.source.DeltaChangeSource;
import io.tidesync.postgres.source.PostgresChangeSource;
import io.tidesync.postgres.source.ReplicaIdentityPolicy;
import io.tidesync.testkit.InMemoryChangeSink;
import io.tidesync.testkit.databricks.FakeDatabricksApi;
import io.tidesync.testkit.databricks.FakeDatabricksApi.IssuedCredential;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * History capture from Lakebase, end to end: a {@link PostgresChangeSource} whose data source is a
 * connection pool over a {@link LakebaseDataSource} captures into Delta history tables from the
 * embedded PostgreSQL whose role password rotates to every token the fake Databricks API issues.
 * Tokens live two seconds, so the replication stream outlives several of them; the test ends the
 * stream's server process each round, and each reconnect must log in with a new token.
 */
class LakebaseHistoryCaptureIT {
  static final String INSTANCE = "orders-db";
  static final String PIPELINE = "lakebase-history";
  static final String SLOT = "lakebase_history";
  static PasswordPostgres pg;

  @TempDir Path lake;

  @BeforeAll
  static void startPostgres() {
    pg = new PasswordPostgres();
  }

  @AfterAll
  static void stopPostgres() throws Exception {
    pg.close();
  }

  @Test
  void historyCaptureFromLakebaseOutlivesTokensAndReconnectsWithFreshOnes() throws Exception {
    try (FakeDatabricksApi api = FakeDatabricksApi.builder().instance(INSTANCE, "127.0.0.1")
        .tokenLifetime(Duration.ofSeconds(2)).onIssue(c -> pg.rotate(c.token(), c.expiresAt())).start()) {
      WorkspaceClient w = LakebaseTokensTest.client(api);
      LakebaseDataSource lakebase = LakebaseDataSource.builder().instance(INSTANCE).port(pg.port())
          .database(PasswordPostgres.DATABASE).user(PasswordPostgres.ROLE).sslMode(SslMode.DISABLE)
          .tokens(LakebaseTokens.forInstance(w, INSTANCE)).build();
      HikariConfig cfg = new HikariConfig();
      cfg.setDataSource(lakebase);
      cfg.setPoolName("lakebase-history");
      cfg.setMaximumPoolSize(2);
      try (HikariDataSource pool = new HikariDataSource(cfg)) {
        execute(pool, "CREATE TABLE orders (id bigint PRIMARY KEY, note text NOT NULL)",
            "INSERT INTO orders VALUES (1, 'before capture'), (2, 'before capture')");
        String location = DeltaHistorySink.intoDirectory(lake.toString()).location();
        try (SyncPipeline history = SyncPipeline.builder(PIPELINE)
            .source(PostgresChangeSource.forTables("public.orders").dataSource(pool).slotName(SLOT).publicationName(SLOT)
                .replicaIdentity(ReplicaIdentityPolicy.SET_FULL).statusInterval(Duration.ofMillis(200)))
            .sink(DeltaHistorySink.intoDirectory(lake.toString()))
            .mode(SyncMode.CONTINUOUS).pollInterval(Duration.ofMillis(50))
            .retries(20, Duration.ofMillis(50), Duration.ofMillis(500))
            .build()) {
          history.start();
          List<String> expected = new ArrayList<>(List.of("1 insert before capture", "2 insert before capture"));
          awaitHistory(history, location + "/lb_orders_history", expected);

          List<Integer> walSenders = new ArrayList<>();
          for (int round = 1; round <= 3; round++) {
            // the token of the stream's login expires: the stream goes on, tokens are checked at login only
            Instant loginTokenExpiry = api.lastIssued().expiresAt();
            await().atMost(Duration.ofSeconds(10)).until(() -> Instant.now().isAfter(loginTokenExpiry));
            long id = 10 + round;
            execute(pool, "INSERT INTO orders VALUES (" + id + ", 'round " + round + "')",
                "UPDATE orders SET note = 'seen in round " + round + "' WHERE id = 1");
            expected.addAll(List.of(id + " insert round " + round, "1 update_preimage " + (round == 1
                ? "before capture" : "seen in round " + (round - 1)), "1 update_postimage seen in round " + round));
            awaitHistory(history, location + "/lb_orders_history", expected);
            assertThat(history.status()).isEqualTo(SyncStatus.RUNNING);

            // the server ends the stream: the pipeline reconnects, which needs a new login and a new token
            int issuedBefore = api.issued().size();
            int ended = walSender();
            walSenders.add(ended);
            execute(pg.superuser(), "SELECT pg_terminate_backend(" + ended + ")");
            await().atMost(Duration.ofSeconds(30)).until(() -> walSender() > 0 && walSender() != ended);
            assertThat(api.issued().size()).as("tokens issued for the reconnect of round " + round)
                .isGreaterThan(issuedBefore);
          }
          execute(pool, "DELETE FROM orders WHERE id = 2");
          expected.add("2 delete before capture");
          awaitHistory(history, location + "/lb_orders_history", expected);
          assertThat(history.status()).isEqualTo(SyncStatus.RUNNING);
          assertThat(history.failure()).isEmpty();
          assertThat(walSenders).doesNotHaveDuplicates();
          List<Instant> expiries = api.issued().stream().map(IssuedCredential::expiresAt).toList();
          System.out.printf("lakebase history IT: %d history rows across %d tokens (%s .. %s), %d reconnects%n",
              expected.size(), expiries.size(), expiries.get(0), expiries.get(expiries.size() - 1), walSenders.size());
        }
      }
    }
  }

  /** The history table's rows as {@code "<id> <change type> <note>"}, in commit order. */
  static List<String> history(String path) {
    InMemoryChangeSink rows = InMemoryChangeSink.keyedBy("_lsn", "_seq");
    try (SyncPipeline read = SyncPipeline.builder("read-history").source(DeltaChangeSource.forPath(path)).sink(rows)
        .mode(SyncMode.SNAPSHOT).build()) {
      read.runOnce();
    }
    Map<List<Long>, String> ordered = new TreeMap<>((a, b) -> a.get(0).equals(b.get(0))
        ? Long.compare(a.get(1), b.get(1)) : Long.compare(a.get(0), b.get(0)));
    for (Map<String, Object> r : rows.rows("read-history").values()) {
      ordered.put(List.of(((Number) r.get("_lsn")).longValue(), ((Number) r.get("_seq")).longValue()),
          r.get("id") + " " + r.get("_change_type") + " " + r.get("note"));
    }
    return List.copyOf(ordered.values());
  }

  static void awaitHistory(SyncPipeline capture, String path, List<String> expected) {
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).ignoreExceptions()
        .failFast("the capture pipeline failed", () -> {
          if (capture.status() == SyncStatus.FAILED) {
            throw new AssertionError("the capture pipeline failed: " + capture.failure().map(Throwable::toString).orElse("?"));
          }
          return false;
        })
        .untilAsserted(() -> assertThat(history(path)).containsExactlyElementsOf(expected));
  }

  /** The process id of the slot's replication connection on the server, 0 when none is active. */
  static int walSender() throws Exception {
    try (Connection c = pg.superuser().getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT active_pid FROM pg_replication_slots WHERE slot_name = '" + SLOT
            + "' AND active")) {
      return rs.next() ? rs.getInt(1) : 0;
    }
  }

  static void execute(javax.sql.DataSource ds, String... statements) throws Exception {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      for (String sql : statements) {
        s.execute(sql);
      }
    }
  }
}
