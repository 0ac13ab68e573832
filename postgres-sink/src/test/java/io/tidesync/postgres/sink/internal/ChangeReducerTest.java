package io.tidesync.postgres.sink.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.tidesync.InvalidSourceDataException;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.LogicalType.Kind;
import io.tidesync.spi.Position;
import io.tidesync.spi.TableId;
import io.tidesync.spi.TableSchema;
import java.time.Instant;
import java.time.LocalDate;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

/**
 * The reducer's vector key path (no boxing) gives exactly what its boxed path gives, for random
 * batches over every key shape the vector path takes. Replay with {@code -Dtidesync.seed=<seed>}.
 */
class ChangeReducerTest {
  static final TableSchema SCHEMA = TableSchema.of(List.of(Column.of("id64", LogicalType.of(Kind.INT64)),
      Column.of("id32", LogicalType.of(Kind.INT32)), Column.of("name", LogicalType.of(Kind.STRING)),
      Column.of("at", LogicalType.of(Kind.TIMESTAMP_TZ)), Column.of("day", LogicalType.of(Kind.DATE)),
      Column.of("v", LogicalType.of(Kind.STRING))));
  static final int[][] KEYS = {{0}, {1}, {2}, {0, 2}, {1, 0, 2}, {4, 3}, {2, 1}};
  static final String[] NAMES = {"", "a", "b", "ab", "ba", "é", "a\0", "long name " + "x".repeat(40)};

  @Test
  void vectorKeysReduceLikeBoxedKeys() {
    long seed = Long.getLong("tidesync.seed", new Random().nextLong());
    Random random = new Random(seed);
    int errors = 0;
    try (BufferAllocator alloc = new RootAllocator()) {
      for (int round = 0; round < 300; round++) {
        int[] key = KEYS[round % KEYS.length];
        String what = "seed " + seed + ", round " + round + ", key columns " + Arrays.toString(key);
        try (ChangeBatch b = randomBatch(alloc, random, 1 + random.nextInt(round < 100 ? 20 : 400))) {
          assertThat(ChangeReducer.VectorKeyIndex.supports(b, key)).as(what).isTrue();
          ChangeReducer reducer = new ChangeReducer(key, -1, "p: cannot apply changes to public.t");
          String fast = outcome(() -> reducer.reduce(b, true));
          String boxed = outcome(() -> reducer.reduce(b, false));
          assertThat(fast).as(what).isEqualTo(boxed);
          errors += fast.startsWith("error") ? 1 : 0;
        }
      }
    }
    assertThat(errors).as("seed " + seed + ": rounds that stopped at a conflict").isLessThan(150);
  }

  @Test
  void otherKeyTypesTakeTheBoxedPath() {
    TableSchema s = TableSchema.of(List.of(Column.of("k", LogicalType.decimal(10, 2)), Column.of("b", LogicalType.of(Kind.BINARY))));
    try (BufferAllocator alloc = new RootAllocator(); ChangeBatchBuilder bb = new ChangeBatchBuilder(alloc, TableId.of("lake", "src"), s);
        ChangeBatch b = bb.build(BatchType.CHANGES, false, Position.of("src", 1))) {
      assertThat(ChangeReducer.VectorKeyIndex.supports(b, new int[] {0})).isFalse();
      assertThat(ChangeReducer.VectorKeyIndex.supports(b, new int[] {1})).isFalse();
    }
  }

  private static String outcome(java.util.function.Supplier<ChangeReducer.Reduced> reduce) {
    try {
      ChangeReducer.Reduced r = reduce.get();
      return "rows " + Arrays.toString(Arrays.copyOf(r.rows(), r.count())) + " deletes "
          + Arrays.toString(Arrays.copyOf(r.deletes(), r.count())) + " skipped " + r.skipped();
    } catch (InvalidSourceDataException e) {
      return "error " + e.getMessage();
    }
  }

  static ChangeBatch randomBatch(BufferAllocator alloc, Random random, int rows) {
    int domain = 1 + random.nextInt(Math.max(1, rows));
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(alloc, TableId.of("lake", "src"), SCHEMA)) {
      long version = 1;
      ChangeKind[] kinds = ChangeKind.values();
      for (int i = 0; i < rows; i++) {
        if (random.nextInt(5) == 0) {
          version++;
        }
        b.startRow(kinds[random.nextInt(kinds.length)], version, 0);
        int k = random.nextInt(domain);
        // Values derived from k (so that composite keys repeat), with a few nulls and big values.
        setOrNull(b, random, 0, k % 3 == 0 ? Long.MIN_VALUE + k : (long) k * 4_294_967_296L);
        setOrNull(b, random, 1, k % 5 == 0 ? -k : k / 2);
        setOrNull(b, random, 2, NAMES[k % NAMES.length] + (k / NAMES.length));
        setOrNull(b, random, 3, Instant.ofEpochSecond(k / 3));
        setOrNull(b, random, 4, LocalDate.ofEpochDay(k % 7));
        // Same key and version give the same row (no conflict), except now and then.
        b.set(5, random.nextInt(200) == 0 ? "conflict" + random.nextInt() : "v" + (k + version) % 3);
      }
      return b.build(BatchType.CHANGES, false, Position.of("src", version));
    }
  }

  private static void setOrNull(ChangeBatchBuilder b, Random random, int column, Object value) {
    if (random.nextInt(40) != 0) {
      b.set(column, value);
    }
  }
}
