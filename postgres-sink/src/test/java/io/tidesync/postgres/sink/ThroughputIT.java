package io.tidesync.postgres.sink;

import static io.tidesync.postgres.sink.SinkTestSupport.*;

import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.LogicalType.Kind;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.Position;
import io.tidesync.spi.TableSchema;
import io.tidesync.testkit.PostgresExtension;
import io.tidesync.testkit.TestPostgres;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** A rough throughput figure, not a benchmark and not asserted. Runs only with -Dtidesync.bench=true. */
@ExtendWith(PostgresExtension.class)
class ThroughputIT {
  static final TableSchema SCHEMA = TableSchema.of(List.of(Column.of("id", LogicalType.of(Kind.INT64)),
      Column.of("name", LogicalType.of(Kind.STRING)), Column.of("qty", LogicalType.of(Kind.INT32)),
      Column.of("price", LogicalType.decimal(12, 2)), Column.of("at", LogicalType.of(Kind.TIMESTAMP_TZ)),
      Column.of("flag", LogicalType.of(Kind.BOOLEAN))));

  @Test
  void copyMergeVersusBatchedUpsert(TestPostgres pg) {
    Assumptions.assumeTrue(Boolean.getBoolean("tidesync.bench"), "set -Dtidesync.bench=true to measure");
    int rows = 100_000;
    try (BufferAllocator alloc = new RootAllocator()) {
      for (ApplyMode mode : new ApplyMode[] {ApplyMode.COPY_MERGE, ApplyMode.BATCHED_UPSERT, ApplyMode.COPY_MERGE}) {
        String table = "bench_" + mode.name().toLowerCase() + System.nanoTime() % 1000;
        try (ChangeApplier a = PostgresSink.forTable(table).dataSource(pg.dataSource()).primaryKey("id").applyMode(mode)
            .open(context("bench"))) {
          apply(a, make(alloc, 0, 1, 1)); // creates the table
          for (int round = 1; round <= 2; round++) {
            try (ChangeBatch b = make(alloc, rows, round + 1, round)) {
              long t0 = System.nanoTime();
              ApplyResult r = a.apply(b);
              double s = (System.nanoTime() - t0) / 1e9;
              System.out.printf("BENCH %s %s %d rows: %.2f s, %.0f rows/s %s%n", mode, round == 1 ? "insert" : "update",
                  rows, s, rows / s, r);
            }
          }
        }
      }
    }
  }

  static ChangeBatch make(BufferAllocator alloc, int rows, long version, int round) {
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(alloc, TABLE_ID, SCHEMA)) {
      Instant now = Instant.parse("2026-01-01T00:00:00Z");
      for (int i = 0; i < rows; i++) {
        b.startRow(round == 1 ? ChangeKind.INSERT : ChangeKind.UPDATE_POSTIMAGE, version, 0);
        b.setLong(0, i);
        b.set(1, "customer name " + i + " round " + round);
        b.set(2, i % 1000 + round);
        b.set(3, BigDecimal.valueOf(i * 7L + round, 2));
        b.set(4, now.plusSeconds(i));
        b.set(5, (i & 1) == 0);
      }
      return b.build(BatchType.CHANGES, false, Position.of(SOURCE, version));
    }
  }
}
