package io.tidesync.postgres.sink;

import static io.tidesync.postgres.sink.SinkTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidesync.postgres.sink.internal.FaultPoint;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.LogicalType.Kind;
import io.tidesync.spi.Position;
import io.tidesync.spi.TableSchema;
import io.tidesync.testkit.PostgresExtension;
import io.tidesync.testkit.TestPostgres;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A failure at every fault point of every batch, followed by what a restarted pipeline does (open a
 * new applier, read committedPosition(), send the batches after it again), ends with the same table
 * and position as a run without failures.
 */
@ExtendWith(PostgresExtension.class)
class ExactlyOnceIT {
  static final TableSchema SCHEMA = TableSchema.of(List.of(Column.of("id", LogicalType.of(Kind.INT64)),
      Column.of("v", LogicalType.of(Kind.STRING)), Column.of("n", LogicalType.of(Kind.INT32))));
  /** Two snapshot batches (position 1), then five batches of changes (positions 2..6). */
  static final int BATCHES = 7;

  @AfterEach
  void disarm() {
    FaultPoint.disarm();
  }

  static ChangeBatch batch(BufferAllocator a, int i) {
    if (i < 2) {
      List<R> rows = new ArrayList<>();
      for (long id = i * 20; id < i * 20 + 20; id++) {
        rows.add(ins(1, id, "s" + id, 0));
      }
      return snapshot(a, SCHEMA, i == 1, 1, rows);
    }
    long v = i;
    List<R> rows = new ArrayList<>();
    for (long id = (i * 7) % 40; id < (i * 7) % 40 + 10; id++) {
      if (id % 3 == 0) {
        rows.add(del(v, id, null, null));
      } else {
        rows.add(pre(v, id, "old", 0));
        rows.add(post(v, id, "v" + v + "-" + id, i));
      }
    }
    rows.add(ins(v, 100L + i, "new" + i, i)); // an insert counted again if replayed twice
    return changes(a, SCHEMA, v, rows);
  }

  /** Runs the batches from the sink's committed position on, as a restarted pipeline would. */
  static void runFrom(ChangeApplier a, BufferAllocator alloc) {
    Optional<Position> p = a.committedPosition();
    for (int i = 0; i < BATCHES; i++) {
      try (ChangeBatch b = batch(alloc, i)) {
        boolean done = p.isPresent() && (b.type() == BatchType.SNAPSHOT || b.endPosition().offsetAsLong() <= p.get().offsetAsLong());
        if (!done) {
          a.apply(b);
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(value = ApplyMode.class, names = {"COPY_MERGE", "BATCHED_UPSERT"})
  void faultsAtEveryPointThenRestartGiveTheCleanResult(ApplyMode mode, TestPostgres pg) {
    String m = mode.name().toLowerCase();
    try (BufferAllocator alloc = new RootAllocator()) {
      PostgresSink clean = PostgresSink.forTable("clean_" + m).dataSource(pg.dataSource()).primaryKey("id").applyMode(mode);
      Optional<Position> cleanPosition;
      try (ChangeApplier a = clean.open(context("eo"))) {
        runFrom(a, alloc);
        cleanPosition = a.committedPosition();
      }
      assertThat(cleanPosition).contains(Position.of(SOURCE, 6));
      List<List<Object>> expected = query(pg, SCHEMA, "SELECT * FROM clean_" + m + " ORDER BY id");

      for (FaultPoint point : FaultPoint.values()) {
        for (int failAt = 0; failAt < BATCHES; failAt++) {
          String table = "f_" + m + "_" + point.ordinal() + "_" + failAt;
          String what = point + " of batch " + failAt + " (" + mode + ")";
          PostgresSink sink = PostgresSink.forTable(table).dataSource(pg.dataSource()).primaryKey("id").applyMode(mode);
          try (ChangeApplier a = sink.open(context("eo"))) {
            for (int i = 0; i < BATCHES; i++) {
              try (ChangeBatch b = batch(alloc, i)) {
                if (i == failAt) {
                  FaultPoint.arm(point);
                  assertThatThrownBy(() -> a.apply(b)).as(what).isInstanceOf(FaultPoint.InjectedFault.class);
                  break;
                }
                a.apply(b);
              }
            }
          }
          try (ChangeApplier a = sink.open(context("eo"))) {
            runFrom(a, alloc);
            assertThat(a.committedPosition()).as(what).isEqualTo(cleanPosition);
          }
          assertThat(query(pg, SCHEMA, "SELECT * FROM " + table + " ORDER BY id")).as(what).isEqualTo(expected);
          assertThat(scalar(pg, "SELECT to_regclass('" + table + "__ts_load')")).as(what).isNull();
        }
      }
    }
  }
}
