package io.tidesync.postgres.sink;

import static io.tidesync.postgres.sink.SinkTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidesync.CommitStateUnknownException;
import io.tidesync.postgres.sink.internal.FaultPoint;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.LogicalType.Kind;
import io.tidesync.spi.Position;
import io.tidesync.spi.TableSchema;
import io.tidesync.testkit.PostgresExtension;
import io.tidesync.testkit.TestPostgres;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The connection dies between the batch's last statement and its COMMIT (the backend is terminated
 * from a second connection): the applier reports {@link CommitStateUnknownException}, a new
 * applier's committedPosition() tells what happened, and applying from there converges.
 */
@ExtendWith(PostgresExtension.class)
class CommitStateUnknownIT {
  static final TableSchema SCHEMA = TableSchema.of(List.of(Column.of("id", LogicalType.of(Kind.INT64)),
      Column.of("v", LogicalType.of(Kind.STRING))));

  @AfterEach
  void disarm() {
    FaultPoint.disarm();
  }

  static ChangeBatch batch(BufferAllocator a, long version) {
    return version == 1
        ? changes(a, SCHEMA, 1, List.of(ins(1, 1L, "a"), ins(1, 2L, "b"), ins(1, 3L, "c")))
        : changes(a, SCHEMA, 2, List.of(del(2, 1L, null), post(2, 2L, "b2"), ins(2, 4L, "d")));
  }

  @ParameterizedTest
  @EnumSource(value = ApplyMode.class, names = {"COPY_MERGE", "BATCHED_UPSERT"})
  void connectionLostDuringCommitIsUnknownThenTheCommittedPositionTells(ApplyMode mode, TestPostgres pg) {
    String table = "csu_" + mode.name().toLowerCase();
    PostgresSink sink = PostgresSink.forTable(table).dataSource(pg.dataSource()).primaryKey("id").applyMode(mode);
    try (BufferAllocator alloc = new RootAllocator()) {
      try (ChangeApplier a = sink.open(context("csu"))) {
        try (ChangeBatch b = batch(alloc, 1)) {
          a.apply(b);
        }
        // The applier is idle in its transaction (rows and position written) when this runs.
        FaultPoint.arm(FaultPoint.AFTER_APPLY_BEFORE_COMMIT, () -> pg.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                + " AND pid <> pg_backend_pid() AND state = 'idle in transaction'"));
        try (ChangeBatch b = batch(alloc, 2)) {
          assertThatThrownBy(() -> a.apply(b))
              .isInstanceOf(CommitStateUnknownException.class)
              .hasMessageStartingWith("csu: cannot apply changes to public." + table + ": the connection failed during COMMIT (")
              .hasMessageEndingWith("), so the batch may or may not be durable. Restart the pipeline: it resumes from the"
                  + " position committed in the sync_state table, which tells");
        }
      }
      try (ChangeApplier a = sink.open(context("csu"))) {
        // The backend died before it read COMMIT: the batch rolled back, and the position says so.
        assertThat(a.committedPosition()).contains(Position.of(SOURCE, 1));
        assertThat(query(pg, SCHEMA, "SELECT * FROM " + table + " ORDER BY id"))
            .containsExactly(List.of(1L, "a"), List.of(2L, "b"), List.of(3L, "c"));
        try (ChangeBatch b = batch(alloc, 2)) {
          a.apply(b);
        }
        assertThat(a.committedPosition()).contains(Position.of(SOURCE, 2));
      }
      assertThat(query(pg, SCHEMA, "SELECT * FROM " + table + " ORDER BY id"))
          .containsExactly(List.of(2L, "b2"), List.of(3L, "c"), List.of(4L, "d"));
    }
  }
}
