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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

/**
 * The reducer keeps, per key, the state the key has after the last version that touched it
 * (whatever the order of the rows inside a version), and its vector key path (no boxing) gives
 * exactly what its boxed path gives, for random batches over every key shape the vector path
 * takes. Replay randomized tests with {@code -Dtidesync.seed=<seed>}.
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

  static final TableSchema KV = TableSchema.of(List.of(Column.of("id", LogicalType.of(Kind.INT64)),
      Column.of("v", LogicalType.of(Kind.STRING))));

  /** One change row of a {@link #KV} batch. */
  record Row(ChangeKind kind, long version, long id, String v) {}

  static Row row(ChangeKind kind, long version, long id, String v) {
    return new Row(kind, version, id, v);
  }

  @Test
  void anUpdateThatChangesTheKeyDeletesTheOldKey() {
    // UPDATE t SET id = 2 WHERE id = 1, its rows in either order
    assertThat(reduceKv(row(ChangeKind.UPDATE_PREIMAGE, 1, 1, "a"), row(ChangeKind.UPDATE_POSTIMAGE, 1, 2, "a")))
        .isEqualTo(Map.of(1L, "deleted", 2L, "a"));
    assertThat(reduceKv(row(ChangeKind.UPDATE_POSTIMAGE, 1, 2, "a"), row(ChangeKind.UPDATE_PREIMAGE, 1, 1, "a")))
        .isEqualTo(Map.of(1L, "deleted", 2L, "a"));
  }

  @Test
  void keysMovedAlongAChainOrSwappedInOneVersionAllSurvive() {
    // 1 -> 2 and 2 -> 3 in one version: 1 is gone, 2 holds 1's row, 3 holds 2's row
    List<Row> chain = List.of(row(ChangeKind.UPDATE_PREIMAGE, 1, 1, "a"), row(ChangeKind.UPDATE_PREIMAGE, 1, 2, "b"),
        row(ChangeKind.UPDATE_POSTIMAGE, 1, 2, "a"), row(ChangeKind.UPDATE_POSTIMAGE, 1, 3, "b"));
    // 1 -> 2 and 2 -> 1 in one version: both stay, with their values swapped
    List<Row> swap = List.of(row(ChangeKind.UPDATE_PREIMAGE, 1, 1, "a"), row(ChangeKind.UPDATE_PREIMAGE, 1, 2, "b"),
        row(ChangeKind.UPDATE_POSTIMAGE, 1, 2, "a"), row(ChangeKind.UPDATE_POSTIMAGE, 1, 1, "b"));
    for (List<Row> order : permutations(chain)) {
      assertThat(reduceKv(order.toArray(Row[]::new))).as(order.toString()).isEqualTo(Map.of(1L, "deleted", 2L, "a", 3L, "b"));
    }
    for (List<Row> order : permutations(swap)) {
      assertThat(reduceKv(order.toArray(Row[]::new))).as(order.toString()).isEqualTo(Map.of(1L, "b", 2L, "a"));
    }
  }

  @Test
  void aKeyChangedThenDeletedOrChangedBackInLaterVersions() {
    assertThat(reduceKv(row(ChangeKind.UPDATE_PREIMAGE, 1, 1, "a"), row(ChangeKind.UPDATE_POSTIMAGE, 1, 2, "a"),
        row(ChangeKind.DELETE, 2, 2, "a"))).isEqualTo(Map.of(1L, "deleted", 2L, "deleted"));
    assertThat(reduceKv(row(ChangeKind.UPDATE_PREIMAGE, 1, 1, "a"), row(ChangeKind.UPDATE_POSTIMAGE, 1, 2, "a"),
        row(ChangeKind.UPDATE_PREIMAGE, 2, 2, "a"), row(ChangeKind.UPDATE_POSTIMAGE, 2, 1, "a2")))
        .isEqualTo(Map.of(1L, "a2", 2L, "deleted"));
  }

  @Test
  void aKeyMovedOntoAKeyWithAnotherPostImageInTheSameVersionIsStillAConflict() {
    assertThat(outcomeOf(row(ChangeKind.UPDATE_PREIMAGE, 1, 1, "a"), row(ChangeKind.UPDATE_POSTIMAGE, 1, 2, "a"),
        row(ChangeKind.INSERT, 1, 2, "z"))).isEqualTo("error p: cannot apply changes to public.t: two different post-images"
        + " of key (id=2) in version 1: the source violates its primary key. Fix the source so that the key is unique per"
        + " version, or set timeseriesKey(column) on the sink so that the row with the latest value of that column wins");
  }

  static String outcomeOf(Row... rows) {
    try (BufferAllocator alloc = new RootAllocator(); ChangeBatch batch = kvBatch(alloc, rows)) {
      return outcome(() -> new ChangeReducer(new int[] {0}, -1, "p: cannot apply changes to public.t").reduce(batch));
    }
  }

  static ChangeBatch kvBatch(BufferAllocator alloc, Row... rows) {
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(alloc, TableId.of("lake", "src"), KV)) {
      for (Row r : rows) {
        b.startRow(r.kind(), r.version(), 0);
        b.set(0, r.id());
        b.set(1, r.v());
      }
      return b.build(BatchType.CHANGES, false, Position.of("src", 1));
    }
  }

  @Test
  void aPreImageWithANullKeyIsNotCounted() {
    try (BufferAllocator alloc = new RootAllocator(); ChangeBatchBuilder b = new ChangeBatchBuilder(alloc, TableId.of("lake", "src"), KV)) {
      b.startRow(ChangeKind.UPDATE_PREIMAGE, 1, 0);
      b.set(1, "a");
      b.startRow(ChangeKind.UPDATE_POSTIMAGE, 1, 0);
      b.set(1, "b");
      try (ChangeBatch batch = b.build(BatchType.CHANGES, false, Position.of("src", 1))) {
        ChangeReducer.Reduced r = new ChangeReducer(new int[] {0}, -1, "p: cannot apply changes to public.t").reduce(batch);
        assertThat(r.count()).isZero();
        assertThat(r.skipped()).isEqualTo(1);
      }
    }
  }

  /**
   * Random versions of inserts, updates (some of which change the key), and deletes, each version's
   * rows shuffled: the reducer gives, per key, what a model that replays the versions in order
   * gives (the key exists after a version iff the version has an insert or post-image of it).
   */
  @Test
  void reducesLikeAVersionByVersionModelWhateverTheRowOrderInAVersion() {
    long seed = Long.getLong("tidesync.seed", new Random().nextLong());
    System.out.println("ChangeReducerTest seed " + seed);
    Random random = new Random(seed);
    for (int round = 0; round < 500; round++) {
      int domain = 2 + random.nextInt(12);
      Map<Long, String> table = new TreeMap<>();
      for (long k = 0; k < domain; k += 2) {
        table.put(k, "v0-" + k);
      }
      Map<Long, String> expected = new TreeMap<>();
      List<Row> rows = new ArrayList<>();
      int versions = 1 + random.nextInt(4);
      for (long version = 1; version <= versions; version++) {
        List<Row> changes = new ArrayList<>();
        Map<Long, String> next = new TreeMap<>(table);
        List<Long> present = new ArrayList<>(table.keySet());
        Collections.shuffle(present, random);
        // each present key is touched at most once per version; a freed key may be taken again
        for (long k : present) {
          int what = random.nextInt(5);
          if (what == 0) {
            changes.add(row(ChangeKind.DELETE, version, k, table.get(k)));
            next.remove(k);
          } else if (what <= 2) {
            long to = random.nextInt(domain);
            if (to != k && next.containsKey(to)) {
              continue;
            }
            String v = "v" + version + "-" + k;
            changes.add(row(ChangeKind.UPDATE_PREIMAGE, version, k, table.get(k)));
            next.remove(k);
            next.put(to, v);
            changes.add(row(ChangeKind.UPDATE_POSTIMAGE, version, to, v));
          }
        }
        for (int i = 0; i < 2; i++) {
          long k = random.nextInt(domain);
          if (!next.containsKey(k)) {
            next.put(k, "i" + version + "-" + k);
            changes.add(row(ChangeKind.INSERT, version, k, next.get(k)));
          }
        }
        Collections.shuffle(changes, random);
        rows.addAll(changes);
        for (Row c : changes) {
          expected.put(c.id(), next.containsKey(c.id()) ? next.get(c.id()) : "deleted");
        }
        table = next;
      }
      assertThat(reduceKv(rows.toArray(Row[]::new))).as("seed " + seed + ", round " + round + ", rows " + rows)
          .isEqualTo(expected);
    }
  }

  /** Reduces {@link #KV} rows (both key paths agree) to: key -> value, or "deleted". */
  static Map<Long, String> reduceKv(Row... rows) {
    try (BufferAllocator alloc = new RootAllocator(); ChangeBatch batch = kvBatch(alloc, rows)) {
      ChangeReducer reducer = new ChangeReducer(new int[] {0}, -1, "p: cannot apply changes to public.t");
      Map<Long, String> fast = outcomeByKey(batch, reducer.reduce(batch, true));
      assertThat(outcomeByKey(batch, reducer.reduce(batch, false))).isEqualTo(fast);
      return fast;
    }
  }

  private static Map<Long, String> outcomeByKey(ChangeBatch batch, ChangeReducer.Reduced r) {
    Map<Long, String> m = new TreeMap<>();
    for (int i = 0; i < r.count(); i++) {
      int row = r.rows()[i];
      assertThat(m.put((Long) batch.value(0, row), r.deletes()[i] ? "deleted" : (String) batch.value(1, row))).isNull();
    }
    return m;
  }

  private static List<List<Row>> permutations(List<Row> rows) {
    if (rows.size() <= 1) {
      return List.of(rows);
    }
    List<List<Row>> out = new ArrayList<>();
    for (int i = 0; i < rows.size(); i++) {
      List<Row> rest = new ArrayList<>(rows);
      Row first = rest.remove(i);
      for (List<Row> p : permutations(rest)) {
        List<Row> l = new ArrayList<>();
        l.add(first);
        l.addAll(p);
        out.add(l);
      }
    }
    return out;
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
