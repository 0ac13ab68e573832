package io.tidesync.lakebase;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.databricks.sdk.WorkspaceClient;
import io.tidesync.ApplyFailedException;
import io.tidesync.SyncMode;
import io.tidesync.SyncPipeline;
import io.tidesync.SyncStatus;
import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.ChangeSink;
import io.tidesync.spi.ChangeSource;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.Position;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SinkContext;
import io.tidesync.spi.SourceContext;
import io.tidesync.spi.TableId;
import io.tidesync.spi.TableSchema;
import io.tidesync.spi.TokenProvider;
import io.tidesync.testkit.databricks.FakeDatabricksApi;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A running continuous {@link SyncPipeline} whose sink logs in through rotating Lakebase tokens. */
class LakebasePipelineIT {
  static final String INSTANCE = "orders-db";
  static final int ROWS_PER_BATCH = 3;
  static PasswordPostgres pg;

  @BeforeAll
  static void startPostgres() {
    pg = new PasswordPostgres();
  }

  @AfterAll
  static void stopPostgres() throws Exception {
    pg.close();
  }

  @Test
  void continuousPipelineKeepsApplyingAcrossRotations() throws Exception {
    try (FakeDatabricksApi api = FakeDatabricksApi.builder().instance(INSTANCE, "127.0.0.1")
        .tokenLifetime(Duration.ofMillis(3000)).onIssue(c -> pg.rotate(c.token(), c.expiresAt())).start()) {
      WorkspaceClient w = LakebaseTokensTest.client(api);
      TokenProvider tokens = LakebaseTokens.builder().instance(w, INSTANCE).refreshMargin(Duration.ofMillis(1000)).build();
      LakebaseDataSource ds = LakebaseDataSource.builder().instance(INSTANCE).port(pg.port())
          .database(PasswordPostgres.DATABASE).user(PasswordPostgres.ROLE).sslMode(SslMode.DISABLE).tokens(tokens).build();
      TinySource source = new TinySource();
      TinySink sink = new TinySink(ds);
      try (SyncPipeline pipeline = SyncPipeline.builder("lakebase-rotation").source(source).sink(sink)
          .mode(SyncMode.CONTINUOUS).pollInterval(Duration.ofMillis(50)).build()) {
        pipeline.start();
        int rounds = 4;
        for (int round = 1; round <= rounds; round++) {
          int issuedBefore = api.issued().size();
          Instant expires = api.lastIssued() == null ? Instant.EPOCH : api.lastIssued().expiresAt();
          // wait until the current token is inside its refresh margin, then offer two batches:
          // the sink's next login refreshes it (and so rotates the role's password)
          await().atMost(Duration.ofSeconds(10)).until(() -> Instant.now().isAfter(expires.minusMillis(1000)));
          source.available.addAndGet(2);
          int expected = 2 * round;
          await().atMost(Duration.ofSeconds(30)).until(() -> sink.committed.get() == expected);
          assertThat(api.issued().size()).as("tokens issued in round " + round).isGreaterThan(issuedBefore);
        }
        assertThat(pipeline.status()).isEqualTo(SyncStatus.RUNNING);
        assertThat(pipeline.failure()).isEmpty();
        try (Connection c = pg.superuser(PasswordPostgres.DATABASE).getConnection(); Statement s = c.createStatement();
            ResultSet rs = s.executeQuery("SELECT count(*), count(DISTINCT id) FROM pipeline_rows")) {
          rs.next();
          assertThat(rs.getLong(1)).isEqualTo(2L * rounds * ROWS_PER_BATCH);
          assertThat(rs.getLong(2)).isEqualTo(2L * rounds * ROWS_PER_BATCH);
        }
        System.out.printf("pipeline IT: %d batches applied across %d tokens, %d sink logins%n",
            sink.committed.get(), api.issued().size(), sink.logins.get());
      }
    }
  }

  /** Emits CHANGES batches 1, 2, 3, .. as the test makes them available. */
  static final class TinySource implements ChangeSource {
    static final TableSchema SCHEMA = TableSchema.of(List.of(Column.of("id", LogicalType.of(LogicalType.Kind.INT64)),
        Column.of("note", LogicalType.of(LogicalType.Kind.STRING))), List.of("id"));
    final AtomicInteger available = new AtomicInteger();

    @Override
    public List<String> validate() {
      return List.of();
    }

    @Override
    public ChangeReader open(ReadRequest request, SourceContext context) {
      long start = request.start().map(Position::offsetAsLong).orElse(0L);
      return new ChangeReader() {
        long next = start + 1;

        @Override
        public ChangeBatch poll() {
          if (next > available.get()) {
            return null;
          }
          try (ChangeBatchBuilder b = new ChangeBatchBuilder(context.allocator(), TableId.of("public", "rows"), SCHEMA)) {
            for (int i = 0; i < ROWS_PER_BATCH; i++) {
              b.startRow(ChangeKind.INSERT, next, ChangeBatchBuilder.instantToMicros(Instant.now()));
              b.set(0, next * 100 + i);
              b.set(1, "batch " + next);
            }
            return b.build(BatchType.CHANGES, false, Position.of("tiny", next++));
          }
        }

        @Override
        public void close() {}
      };
    }

    @Override
    public String describe() {
      return "tiny test source";
    }
  }

  /** Writes rows and the position in one transaction, on a new physical connection per batch. */
  static final class TinySink implements ChangeSink {
    final DataSource ds;
    final AtomicLong committed = new AtomicLong();
    final AtomicLong logins = new AtomicLong();

    TinySink(DataSource ds) {
      this.ds = ds;
    }

    @Override
    public List<String> validate() {
      return List.of();
    }

    private Connection connect() throws SQLException {
      logins.incrementAndGet();
      return ds.getConnection();
    }

    @Override
    public ChangeApplier open(SinkContext context) {
      try (Connection c = connect(); Statement s = c.createStatement()) {
        s.execute("CREATE TABLE IF NOT EXISTS pipeline_rows (id bigint PRIMARY KEY, note text)");
        s.execute("CREATE TABLE IF NOT EXISTS pipeline_state (name text PRIMARY KEY, position bigint NOT NULL)");
      } catch (SQLException e) {
        throw new ApplyFailedException("tiny sink: cannot create tables: " + e.getMessage(), e.getSQLState(), e, true);
      }
      return new ChangeApplier() {
        @Override
        public Optional<Position> committedPosition() {
          try (Connection c = connect(); Statement s = c.createStatement();
              ResultSet rs = s.executeQuery("SELECT position FROM pipeline_state WHERE name = 'p'")) {
            return rs.next() ? Optional.of(Position.of("tiny", rs.getLong(1))) : Optional.empty();
          } catch (SQLException e) {
            throw new ApplyFailedException("tiny sink: cannot read the position: " + e.getMessage(), e.getSQLState(), e, true);
          }
        }

        @Override
        public ApplyResult apply(ChangeBatch batch) {
          try (Connection c = connect()) {
            c.setAutoCommit(false);
            try (PreparedStatement ins = c.prepareStatement("INSERT INTO pipeline_rows VALUES (?, ?)");
                PreparedStatement pos = c.prepareStatement("INSERT INTO pipeline_state VALUES ('p', ?)"
                    + " ON CONFLICT (name) DO UPDATE SET position = excluded.position")) {
              for (int r = 0; r < batch.rowCount(); r++) {
                ins.setLong(1, (Long) batch.value(0, r));
                ins.setString(2, (String) batch.value(1, r));
                ins.addBatch();
              }
              ins.executeBatch();
              pos.setLong(1, batch.endPosition().offsetAsLong());
              pos.executeUpdate();
              c.commit();
            }
            committed.set(batch.endPosition().offsetAsLong());
            return new ApplyResult(batch.rowCount(), 0, 0, 0);
          } catch (SQLException e) {
            throw new ApplyFailedException("tiny sink: cannot apply " + batch + ": " + e.getMessage(), e.getSQLState(), e, true);
          }
        }

        @Override
        public void close() {}
      };
    }

    @Override
    public String describe() {
      return "tiny test sink";
    }
  }
}
