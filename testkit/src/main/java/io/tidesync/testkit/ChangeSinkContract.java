package io.tidesync.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.tidesync.SyncMode;
import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.ChangeSink;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.Position;
import io.tidesync.spi.SinkContext;
import io.tidesync.spi.TableId;
import io.tidesync.spi.TableSchema;
import io.tidesync.testkit.fixtures.FixtureRows;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Contract every state-mirroring {@link ChangeSink} (one that keeps the current row per primary
 * key) must meet. Extend it in your sink's tests and implement the two abstract methods:
 *
 * <pre>{@code
 * class MySinkContractIT extends ChangeSinkContract {
 *   protected ChangeSink sinkFor(TableId table, List<String> key) { return MySink.forTable(table.name())...; }
 *   protected Map<List<Object>, Map<String, Object>> targetRows(TableId table, TableSchema schema) { ... }
 * }
 * }</pre>
 *
 * The contract uses a table {@code (id bigint, name string, amount decimal(12,2))} keyed by
 * {@code id}, with a fresh table name per test.
 */
public abstract class ChangeSinkContract {
  private static final AtomicInteger TABLES = new AtomicInteger();
  protected static final TableSchema SCHEMA = TableSchema.of(List.of(
      new Column("id", LogicalType.of(LogicalType.Kind.INT64), false),
      Column.of("name", LogicalType.of(LogicalType.Kind.STRING)),
      Column.of("amount", LogicalType.decimal(12, 2))));
  private BufferAllocator allocator;
  private TableId table;

  /** A sink writing to {@code table} (create it when missing), keyed by {@code key}. */
  protected abstract ChangeSink sinkFor(TableId table, List<String> key);

  /** Every row of the target now, by key (a list of key values), as canonical values by column name. */
  protected abstract Map<List<Object>, Map<String, Object>> targetRows(TableId table, TableSchema schema);

  @BeforeEach
  void setUpContract() {
    allocator = new RootAllocator(64L << 20);
    table = TableId.of("contract", "t" + TABLES.incrementAndGet() + "_" + System.nanoTime() % 100000);
  }

  @AfterEach
  void tearDownContract() {
    assertThat(allocator.getAllocatedMemory()).as("batch memory released").isZero();
    allocator.close();
  }

  /** The table of the current test. */
  protected TableId table() {
    return table;
  }

  private record Row(ChangeKind kind, long version, Object id, String name, String amount) {}

  private ChangeBatch batch(BatchType type, boolean last, long endVersion, Row... rows) {
    ChangeBatchBuilder b = new ChangeBatchBuilder(allocator, table, SCHEMA);
    for (Row r : rows) {
      b.startRow(r.kind(), r.version(), r.version() * 1000);
      b.set(0, r.id());
      b.set(1, r.name());
      b.set(2, r.amount() == null ? null : new java.math.BigDecimal(r.amount()));
    }
    return b.build(type, last, Position.of("contract-source", endVersion));
  }

  private ApplyResult apply(ChangeApplier applier, ChangeBatch batch) {
    try (batch) {
      return applier.apply(batch);
    }
  }

  private ChangeApplier open(String pipeline) {
    return sinkFor(table, List.of("id")).open(new SinkContext(pipeline, SyncMode.TRIGGERED, "contract-source"));
  }

  private static Map<String, Object> row(long id, String name, String amount) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", id);
    m.put("name", name);
    m.put("amount", amount == null ? null : new java.math.BigDecimal(amount));
    return m;
  }

  private void assertTarget(Map<String, Object>... rows) {
    Map<List<Object>, Map<String, Object>> actual = targetRows(table, SCHEMA);
    actual.forEach((key, row) -> assertThat(key).as("key of row %s", row).isEqualTo(List.of(row.get("id"))));
    FixtureRows.assertSameRows("target rows of " + table, List.of(rows), new ArrayList<>(actual.values()));
  }

  @Test
  void snapshotThenChangesMirrorTheSourceAndCommitThePosition() {
    try (ChangeApplier a = open("contract")) {
      assertThat(a.committedPosition()).isEmpty();
      ApplyResult s = apply(a, batch(BatchType.SNAPSHOT, true, 3,
          new Row(ChangeKind.INSERT, 3, 1L, "a", "1.00"), new Row(ChangeKind.INSERT, 3, 2L, "b", null)));
      assertThat(s.inserted()).isEqualTo(2);
      assertThat(a.committedPosition()).contains(Position.of("contract-source", 3));
      ApplyResult c = apply(a, batch(BatchType.CHANGES, false, 5,
          new Row(ChangeKind.UPDATE_PREIMAGE, 4, 1L, "a", "1.00"), new Row(ChangeKind.UPDATE_POSTIMAGE, 4, 1L, "a2", "2.50"),
          new Row(ChangeKind.DELETE, 4, 2L, "b", null), new Row(ChangeKind.INSERT, 5, 3L, "c", "-7.25")));
      assertThat(c.updated()).isEqualTo(1);
      assertThat(c.deleted()).isEqualTo(1);
      assertThat(c.inserted()).isEqualTo(1);
      assertThat(a.committedPosition()).contains(Position.of("contract-source", 5));
    }
    assertTarget(row(1, "a2", "2.50"), row(3, "c", "-7.25"));
    try (ChangeApplier reopened = open("contract")) {
      assertThat(reopened.committedPosition()).as("position survives a new applier").contains(Position.of("contract-source", 5));
    }
    try (ChangeApplier other = open("another-pipeline")) {
      assertThat(other.committedPosition()).as("positions are kept per pipeline").isEmpty();
    }
  }

  @Test
  void aSnapshotBecomesVisibleOnlyWithItsLastBatch() {
    try (ChangeApplier a = open("contract")) {
      apply(a, batch(BatchType.SNAPSHOT, true, 1, new Row(ChangeKind.INSERT, 1, 1L, "old", "1.00")));
      apply(a, batch(BatchType.SNAPSHOT, false, 2, new Row(ChangeKind.INSERT, 2, 10L, "new", "1.00")));
      assertTarget(row(1, "old", "1.00"));
      assertThat(a.committedPosition()).contains(Position.of("contract-source", 1));
      apply(a, batch(BatchType.SNAPSHOT, true, 2, new Row(ChangeKind.INSERT, 2, 11L, "new", "2.00")));
      assertTarget(row(10, "new", "1.00"), row(11, "new", "2.00"));
      assertThat(a.committedPosition()).contains(Position.of("contract-source", 2));
    }
  }

  @Test
  void aKeyDeletedAndInsertedInOneVersionEndsInserted() {
    try (ChangeApplier a = open("contract")) {
      apply(a, batch(BatchType.SNAPSHOT, true, 0, new Row(ChangeKind.INSERT, 0, 1L, "a", "1.00")));
      apply(a, batch(BatchType.CHANGES, false, 1,
          new Row(ChangeKind.DELETE, 1, 1L, "a", "1.00"), new Row(ChangeKind.INSERT, 1, 1L, "a-again", "3.00")));
    }
    assertTarget(row(1, "a-again", "3.00"));
  }

  @Test
  void anUpdateThatChangesTheKeyRemovesTheOldKeyWhateverTheRowOrder() {
    try (ChangeApplier a = open("contract")) {
      apply(a, batch(BatchType.SNAPSHOT, true, 0, new Row(ChangeKind.INSERT, 0, 1L, "a", "1.00"),
          new Row(ChangeKind.INSERT, 0, 2L, "b", "2.00"), new Row(ChangeKind.INSERT, 0, 3L, "c", "3.00"),
          new Row(ChangeKind.INSERT, 0, 5L, "e", "5.00")));
      // v1: 1 -> 10, and a chain 2 -> 3, 3 -> 4; post-images before pre-images
      apply(a, batch(BatchType.CHANGES, false, 1,
          new Row(ChangeKind.UPDATE_POSTIMAGE, 1, 10L, "a", "1.00"), new Row(ChangeKind.UPDATE_POSTIMAGE, 1, 3L, "b", "2.00"),
          new Row(ChangeKind.UPDATE_POSTIMAGE, 1, 4L, "c", "3.00"), new Row(ChangeKind.UPDATE_PREIMAGE, 1, 1L, "a", "1.00"),
          new Row(ChangeKind.UPDATE_PREIMAGE, 1, 2L, "b", "2.00"), new Row(ChangeKind.UPDATE_PREIMAGE, 1, 3L, "c", "3.00")));
      assertTarget(row(10, "a", "1.00"), row(3, "b", "2.00"), row(4, "c", "3.00"), row(5, "e", "5.00"));
      // v2: swap 3 <-> 4 (pre-images and post-images interleaved); v3: 5 -> 6; v4: 6 deleted, 10 -> 1 (back)
      ApplyResult r = apply(a, batch(BatchType.CHANGES, false, 4,
          new Row(ChangeKind.UPDATE_PREIMAGE, 2, 3L, "b", "2.00"), new Row(ChangeKind.UPDATE_POSTIMAGE, 2, 3L, "c", "3.00"),
          new Row(ChangeKind.UPDATE_POSTIMAGE, 2, 4L, "b", "2.00"), new Row(ChangeKind.UPDATE_PREIMAGE, 2, 4L, "c", "3.00"),
          new Row(ChangeKind.UPDATE_PREIMAGE, 3, 5L, "e", "5.00"), new Row(ChangeKind.UPDATE_POSTIMAGE, 3, 6L, "e", "5.00"),
          new Row(ChangeKind.DELETE, 4, 6L, "e", "5.00"), new Row(ChangeKind.UPDATE_PREIMAGE, 4, 10L, "a", "1.00"),
          new Row(ChangeKind.UPDATE_POSTIMAGE, 4, 1L, "a", "1.00")));
      assertThat(r.skipped()).isZero();
      assertThat(a.committedPosition()).contains(Position.of("contract-source", 4));
    }
    assertTarget(row(1, "a", "1.00"), row(3, "c", "3.00"), row(4, "b", "2.00"));
  }

  /**
   * A version split over two batches, its deletes and pre-images first (as {@link ChangeBatch}
   * asks of sources): keys the second batch moves onto keys the first one freed survive.
   */
  @Test
  void keyChangesOfOneVersionSplitAcrossBatches() {
    try (ChangeApplier a = open("contract")) {
      apply(a, batch(BatchType.SNAPSHOT, true, 0, new Row(ChangeKind.INSERT, 0, 1L, "a", "1.00"),
          new Row(ChangeKind.INSERT, 0, 2L, "b", "2.00"), new Row(ChangeKind.INSERT, 0, 3L, "c", "3.00")));
      // one version: swap 1 <-> 2, move 3 -> 7, delete nothing else
      apply(a, batch(BatchType.CHANGES, false, 0, new Row(ChangeKind.UPDATE_PREIMAGE, 1, 1L, "a", "1.00"),
          new Row(ChangeKind.UPDATE_PREIMAGE, 1, 2L, "b", "2.00")));
      apply(a, batch(BatchType.CHANGES, false, 0, new Row(ChangeKind.UPDATE_PREIMAGE, 1, 3L, "c", "3.00"),
          new Row(ChangeKind.UPDATE_POSTIMAGE, 1, 2L, "a", "1.00")));
      apply(a, batch(BatchType.CHANGES, false, 1, new Row(ChangeKind.UPDATE_POSTIMAGE, 1, 1L, "b", "2.00"),
          new Row(ChangeKind.UPDATE_POSTIMAGE, 1, 7L, "c", "3.00")));
      assertThat(a.committedPosition()).contains(Position.of("contract-source", 1));
    }
    assertTarget(row(1, "b", "2.00"), row(2, "a", "1.00"), row(7, "c", "3.00"));
  }

  @Test
  void anUpdateThatChangesANullKeyIsSkippedAndCountedOnce() {
    try (ChangeApplier a = open("contract")) {
      apply(a, batch(BatchType.SNAPSHOT, true, 0, new Row(ChangeKind.INSERT, 0, 1L, "a", "1.00")));
      ApplyResult r = apply(a, batch(BatchType.CHANGES, false, 1, new Row(ChangeKind.UPDATE_PREIMAGE, 1, null, "n", "1.00"),
          new Row(ChangeKind.UPDATE_POSTIMAGE, 1, null, "n2", "1.00")));
      assertThat(r.skipped()).isEqualTo(1);
    }
    assertTarget(row(1, "a", "1.00"));
  }

  @Test
  void rowsWithANullKeyAreSkippedAndCounted() {
    try (ChangeApplier a = open("contract")) {
      ApplyResult r = apply(a, batch(BatchType.SNAPSHOT, true, 0,
          new Row(ChangeKind.INSERT, 0, 1L, "a", "1.00"), new Row(ChangeKind.INSERT, 0, null, "nokey", "1.00")));
      assertThat(r.skipped()).isEqualTo(1);
      ApplyResult c = apply(a, batch(BatchType.CHANGES, false, 1, new Row(ChangeKind.INSERT, 1, null, "nokey", "2.00")));
      assertThat(c.skipped()).isEqualTo(1);
      assertThat(a.committedPosition()).contains(Position.of("contract-source", 1));
    }
    assertTarget(row(1, "a", "1.00"));
  }

  @Test
  void manySmallBatchesKeepEveryChange() {
    List<Map<String, Object>> expected = new ArrayList<>();
    try (ChangeApplier a = open("contract")) {
      apply(a, batch(BatchType.SNAPSHOT, true, 0));
      for (int v = 1; v <= 30; v++) {
        apply(a, batch(BatchType.CHANGES, false, v, new Row(ChangeKind.INSERT, v, (long) v, "n" + v, v + ".00")));
        expected.add(row(v, "n" + v, v + ".00"));
      }
      assertThat(a.committedPosition()).contains(Position.of("contract-source", 30));
    }
    @SuppressWarnings("unchecked")
    Map<String, Object>[] rows = expected.toArray(new Map[0]);
    assertTarget(rows);
  }
}
