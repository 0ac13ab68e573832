package io.tidesync.delta.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.delta.kernel.engine.Engine;
import io.tidesync.ConfigurationException;
import io.tidesync.SchemaMismatchException;
import io.tidesync.SyncMode;
import io.tidesync.delta.sink.internal.DeltaHistoryApplier;
import io.tidesync.delta.sink.internal.FaultHook;
import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.LogicalType.Kind;
import io.tidesync.spi.Position;
import io.tidesync.spi.SinkContext;
import io.tidesync.spi.TableId;
import io.tidesync.spi.TableSchema;
import java.io.File;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class DeltaHistorySinkIT {
  static final String SOURCE = "postgres:slot@db";
  static final TableId ORDERS = TableId.of("public", "orders");
  static final TableId ITEMS = TableId.of("sales", "items");
  static final TableSchema SIMPLE = TableSchema.of(List.of(
      new Column("id", LogicalType.of(Kind.INT64), false), Column.of("note", LogicalType.of(Kind.STRING))), List.of("id"));

  @TempDir Path dir;
  BufferAllocator allocator;
  final List<DeltaHistoryApplier> appliers = new ArrayList<>();

  @BeforeEach
  void setUp() {
    allocator = new RootAllocator(512L << 20);
  }

  @AfterEach
  void tearDown() {
    appliers.forEach(DeltaHistoryApplier::close);
    allocator.close(); // fails on leaked buffers
  }

  DeltaHistorySink sink() {
    return DeltaHistorySink.intoDirectory(dir.toString());
  }

  DeltaHistoryApplier applier(DeltaHistorySink sink, FaultHook hook) {
    DeltaHistoryApplier a = new DeltaHistoryApplier(sink, new SinkContext("p1", SyncMode.CONTINUOUS, "test"), hook);
    appliers.add(a);
    return a;
  }

  DeltaHistoryApplier applier() {
    return applier(sink(), FaultHook.NONE);
  }

  /** One row per id: INSERT rows with note "n<id>" at commit lsn. */
  ChangeBatch inserts(TableId table, BatchType type, long lsn, long fromId, int count, boolean partial, boolean last) {
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(allocator, table, SIMPLE)) {
      for (int i = 0; i < count; i++) {
        b.startRow(ChangeKind.INSERT, lsn, 1_700_000_000_000_000L + lsn, 42);
        b.set(0, fromId + i);
        b.set(1, "n" + (fromId + i));
      }
      Position pos = Position.of(SOURCE, lsn);
      return partial && type == BatchType.CHANGES ? b.buildPartialTransaction(pos) : b.build(type, last, pos);
    }
  }

  ApplyResult apply(DeltaHistoryApplier a, ChangeBatch batch) {
    try (batch) {
      return a.apply(batch);
    }
  }

  String path(TableId t) {
    return dir.toUri().toString().replaceFirst("^file:///", "file:/").replaceAll("/$", "") + "/"
        + DeltaHistorySink.historyTableName(t);
  }

  Engine engine() {
    return DeltaHistorySinkTestEngine.ENGINE;
  }

  List<Map<String, Object>> rows(TableId t) throws Exception {
    return KernelReader.rows(engine(), path(t));
  }

  long version(TableId t) {
    return KernelReader.snapshot(engine(), path(t)).getVersion();
  }

  @Test
  void createsTableWithLakehouseSyncNaming() throws Exception {
    DeltaHistoryApplier a = applier();
    ChangeBatchBuilder b = new ChangeBatchBuilder(allocator, ORDERS, SIMPLE);
    b.startRow(ChangeKind.UPDATE_PREIMAGE, 100, 1_700_000_000_000_000L, 7);
    b.set(0, 1L);
    b.set(1, "old");
    b.startRow(ChangeKind.UPDATE_POSTIMAGE, 100, 1_700_000_000_000_000L, 7);
    b.set(0, 1L);
    b.set(1, "new");
    b.startRow(ChangeKind.DELETE, 100, 1_700_000_000_000_000L, 7);
    b.set(0, 2L);
    ApplyResult r = apply(a, b.build(BatchType.CHANGES, false, Position.of(SOURCE, 100)));
    assertThat(r).isEqualTo(new ApplyResult(0, 1, 1, 0));
    assertThat(KernelReader.snapshot(engine(), path(ORDERS)).getSchema().fieldNames())
        .containsExactly("id", "note", "_change_type", "_lsn", "_commit_timestamp", "_seq");
    assertThat(KernelReader.snapshot(engine(), path(ORDERS)).getTableProperties()).doesNotContainKey("delta.enableChangeDataFeed");
    assertThat(rows(ORDERS)).extracting(m -> m.get("_change_type"))
        .containsExactly("update_preimage", "update_postimage", "delete");
    assertThat(rows(ORDERS).get(0)).containsEntry("_lsn", 100L)
        .containsEntry("_commit_timestamp", Instant.parse("2023-11-14T22:13:20Z"));
  }

  @Test
  void createsTableWithLakebaseCdfNamingInSchemaQualifiedName() throws Exception {
    DeltaHistoryApplier a = applier(sink().withNaming(HistoryNaming.LAKEBASE_CDF), FaultHook.NONE);
    apply(a, inserts(ITEMS, BatchType.CHANGES, 5, 1, 2, false, false));
    assertThat(path(ITEMS)).endsWith("/lb_sales_items_history");
    assertThat(KernelReader.snapshot(engine(), path(ITEMS)).getSchema().fieldNames())
        .containsExactly("id", "note", "_pg_change_type", "_pg_lsn", "_pg_xid", "_timestamp", "_pg_seq");
    assertThat(rows(ITEMS)).allSatisfy(m -> assertThat(m).containsEntry("_pg_xid", 42L).containsEntry("_pg_lsn", 5L)
        .containsEntry("_pg_change_type", "insert"));
  }

  @Test
  void everyTypeRoundTripsThroughKernel() throws Exception {
    List<Column> cols = new ArrayList<>();
    for (Kind k : Kind.values()) {
      cols.add(Column.of("c_" + k.name().toLowerCase(), k == Kind.DECIMAL ? LogicalType.decimal(38, 9)
          : k == Kind.JSON ? LogicalType.json("jsonb") : LogicalType.of(k)));
    }
    TableSchema schema = TableSchema.of(cols);
    Object[] values = {true, (byte) -7, (short) 31000, 123456789, Long.MIN_VALUE, 1.5f, -2.25e300,
        new BigDecimal("12345678901234567890123456789.123456789"), "héllo ✓", new byte[] {0, 1, (byte) 255},
        LocalDate.of(1, 1, 1), Instant.parse("1969-12-31T23:59:59.999999Z"), LocalDateTime.of(2262, 4, 11, 23, 47, 16, 854775000),
        "{\"a\": [1, 2]}"};
    DeltaHistoryApplier a = applier();
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(allocator, ORDERS, schema)) {
      b.startRow(ChangeKind.INSERT, 9, 0, 1);
      for (int i = 0; i < values.length; i++) {
        b.set(i, values[i]);
      }
      b.startRow(ChangeKind.INSERT, 9, 0, 1); // all nulls
      apply(a, b.build(BatchType.CHANGES, false, Position.of(SOURCE, 9)));
    }
    List<Map<String, Object>> rows = rows(ORDERS);
    assertThat(rows).hasSize(2);
    for (int i = 0; i < values.length; i++) {
      assertThat(rows.get(0).get(cols.get(i).name())).as(cols.get(i).name()).isEqualTo(values[i]);
      assertThat(rows.get(1).get(cols.get(i).name())).as(cols.get(i).name()).isNull();
    }
    assertThat(KernelReader.snapshot(engine(), path(ORDERS)).getProtocol().getWriterFeatures()).contains("timestampNtz");
  }

  @Test
  void replayedBatchIsSkippedBySameAndFreshApplier() throws Exception {
    DeltaHistoryApplier a = applier();
    apply(a, inserts(ORDERS, BatchType.CHANGES, 10, 1, 3, false, false));
    assertThat(apply(a, inserts(ORDERS, BatchType.CHANGES, 10, 1, 3, false, false))).isEqualTo(new ApplyResult(0, 0, 0, 3));
    DeltaHistoryApplier fresh = applier();
    assertThat(apply(fresh, inserts(ORDERS, BatchType.CHANGES, 9, 1, 3, false, false)).skipped()).isEqualTo(3);
    apply(fresh, inserts(ORDERS, BatchType.CHANGES, 11, 4, 1, false, false));
    assertThat(rows(ORDERS)).hasSize(4);
    assertThat(version(ORDERS)).isEqualTo(2); // create + two appends
  }

  @Test
  void partialBatchesCommitOnceWithTheCompletingBatchInFewFiles() throws Exception {
    DeltaHistoryApplier a = applier();
    apply(a, inserts(ORDERS, BatchType.CHANGES, 10, 0, 1, false, false));
    long before = version(ORDERS);
    for (int i = 0; i < 50; i++) {
      apply(a, inserts(ORDERS, BatchType.CHANGES, 20, 1 + i * 100L, 100, true, false));
      assertThat(version(ORDERS)).isEqualTo(before);
    }
    assertThat(rows(ORDERS)).hasSize(1);
    apply(a, inserts(ORDERS, BatchType.CHANGES, 20, 10_000, 100, false, false));
    assertThat(version(ORDERS)).isEqualTo(before + 1);
    assertThat(rows(ORDERS)).hasSize(1 + 5100);
    assertThat(KernelReader.fileCount(engine(), path(ORDERS))).isEqualTo(2); // one for lsn 10, one for lsn 20
  }

  @Test
  void transactionOverTwoTablesCommitsBothWithTheLastBatch() throws Exception {
    DeltaHistoryApplier a = applier();
    apply(a, inserts(ORDERS, BatchType.CHANGES, 30, 1, 5, true, false));
    apply(a, inserts(ITEMS, BatchType.CHANGES, 30, 1, 5, true, false));
    assertThat(new File(dir.toFile(), "lb_orders_history/_delta_log/00000000000000000001.json")).doesNotExist();
    apply(a, inserts(ITEMS, BatchType.CHANGES, 30, 6, 5, false, false));
    assertThat(rows(ORDERS)).hasSize(5);
    assertThat(rows(ITEMS)).hasSize(10);
  }

  @Test
  void smallTargetFileSizeRollsFiles() throws Exception {
    DeltaHistoryApplier a = applier(sink().withTargetFileSize(64 * 1024), FaultHook.NONE);
    for (int i = 0; i < 20; i++) {
      apply(a, inserts(ORDERS, BatchType.CHANGES, 20, i * 5000L, 5000, i < 19, false));
    }
    long files = KernelReader.fileCount(engine(), path(ORDERS));
    File[] parquet = new File(dir.toFile(), "lb_orders_history").listFiles((d, n) -> n.endsWith(".parquet"));
    long[] sizes = Stream.of(parquet).mapToLong(File::length).sorted().toArray();
    // files roll at the target size (Kernel measures it before compression), not at batch boundaries:
    // all but the last file have about the same size
    assertThat(files).isEqualTo(parquet.length).isGreaterThan(1);
    assertThat(sizes[1]).isGreaterThan(16 * 1024).isGreaterThan(sizes[sizes.length - 1] / 2);
    assertThat(rows(ORDERS)).hasSize(100_000);
  }

  @Test
  void checkpointIsWrittenAfterTenCommits() {
    DeltaHistoryApplier a = applier();
    for (int i = 1; i <= 11; i++) {
      apply(a, inserts(ORDERS, BatchType.CHANGES, i, i, 1, false, false));
    }
    File log = new File(dir.toFile(), "lb_orders_history/_delta_log");
    assertThat(log.list((d, n) -> n.endsWith(".checkpoint.parquet"))).isNotEmpty();
  }

  @Test
  void snapshotMarkerGatesCommittedPosition() {
    DeltaHistoryApplier a = applier();
    assertThat(a.committedPosition()).isEmpty();
    apply(a, inserts(ORDERS, BatchType.SNAPSHOT, 50, 1, 10, false, false));
    apply(a, inserts(ORDERS, BatchType.SNAPSHOT, 50, 11, 10, false, false));
    assertThat(new File(dir.toFile(), "lb_orders_history")).exists();
    apply(a, inserts(ITEMS, BatchType.SNAPSHOT, 50, 1, 3, false, true));
    assertThat(new File(dir.toFile(), "_tidesync/p1.snapshot")).exists();
    assertThat(a.committedPosition()).contains(Position.of(SOURCE, 50));
    apply(a, inserts(ORDERS, BatchType.CHANGES, 60, 100, 1, false, false));
    assertThat(applier().committedPosition()).contains(Position.of(SOURCE, 50)); // min over tables
    apply(a, inserts(ITEMS, BatchType.CHANGES, 70, 100, 1, false, false));
    assertThat(applier().committedPosition()).contains(Position.of(SOURCE, 60));
  }

  @Test
  void unfinishedSnapshotIsReplacedByTheNextOne() throws Exception {
    FaultHook crashAtLastCommit = (p, t) -> {
      if (p == FaultHook.Point.AFTER_COMMIT && t.equals(ITEMS)) {
        throw new IllegalStateException("crash");
      }
    };
    DeltaHistoryApplier a = applier(sink(), crashAtLastCommit);
    apply(a, inserts(ORDERS, BatchType.SNAPSHOT, 50, 1, 10, false, false));
    assertThatThrownBy(() -> apply(a, inserts(ITEMS, BatchType.SNAPSHOT, 50, 1, 3, false, true)));
    a.close();
    DeltaHistoryApplier b = applier();
    assertThat(b.committedPosition()).isEmpty();
    apply(b, inserts(ORDERS, BatchType.SNAPSHOT, 80, 1, 4, false, false));
    apply(b, inserts(ITEMS, BatchType.SNAPSHOT, 80, 1, 2, false, true));
    assertThat(rows(ORDERS)).hasSize(4).allSatisfy(m -> assertThat(m).containsEntry("_lsn", 80L));
    assertThat(rows(ITEMS)).hasSize(2);
    assertThat(b.committedPosition()).contains(Position.of(SOURCE, 80));
  }

  @ParameterizedTest
  @EnumSource(FaultHook.Point.class)
  void crashAtAnyStepThenReplayIsExactlyOnce(FaultHook.Point point) throws Exception {
    // snapshot (2 tables), then a transaction split over both tables, then one more
    List<java.util.function.Supplier<ChangeBatch>> stream = List.of(
        () -> inserts(ORDERS, BatchType.SNAPSHOT, 50, 1, 5, false, false),
        () -> inserts(ITEMS, BatchType.SNAPSHOT, 50, 1, 5, false, true),
        () -> inserts(ORDERS, BatchType.CHANGES, 60, 100, 5, true, false),
        () -> inserts(ITEMS, BatchType.CHANGES, 60, 100, 5, true, false),
        () -> inserts(ORDERS, BatchType.CHANGES, 60, 105, 5, false, false),
        () -> inserts(ITEMS, BatchType.CHANGES, 70, 200, 5, false, false));
    for (int crashAt = 0; crashAt < 12; crashAt++) {
      Path sub = Files.createDirectory(dir.resolve(point + "-" + crashAt));
      DeltaHistorySink s = DeltaHistorySink.intoDirectory(sub.toString());
      int[] calls = {0};
      int target = crashAt;
      boolean[] crashed = {false};
      FaultHook hook = (p, t) -> {
        if (p == point && calls[0]++ == target) {
          crashed[0] = true;
          throw new IllegalStateException("injected crash at " + p);
        }
      };
      DeltaHistoryApplier a = applier(s, hook);
      int acked = -1; // index of the last complete batch applied
      for (int i = 0; i < stream.size(); i++) {
        ChangeBatch batch = stream.get(i).get();
        try (batch) {
          a.apply(batch);
          if (!batch.isPartial()) {
            acked = i;
          }
        } catch (RuntimeException e) {
          break;
        }
      }
      a.close();
      if (!crashed[0]) {
        continue;
      }
      // restart: the source resumes after the last acknowledged batch if the snapshot completed, else re-snapshots
      DeltaHistoryApplier b = applier(s, FaultHook.NONE);
      int from = b.committedPosition().isEmpty() ? 0 : acked + 1;
      for (int i = from; i < stream.size(); i++) {
        apply(b, stream.get(i).get());
      }
      String orders = sub.toUri().toString().replaceFirst("^file:///", "file:/").replaceAll("/$", "") + "/lb_orders_history";
      String items = orders.replace("lb_orders_history", "lb_sales_items_history");
      List<Long> orderIds = KernelReader.rows(engine(), orders).stream().map(m -> (Long) m.get("id")).sorted().collect(Collectors.toList());
      List<Long> itemIds = KernelReader.rows(engine(), items).stream().map(m -> (Long) m.get("id")).sorted().collect(Collectors.toList());
      assertThat(orderIds).as("crash at %s #%d", point, crashAt)
          .containsExactly(1L, 2L, 3L, 4L, 5L, 100L, 101L, 102L, 103L, 104L, 105L, 106L, 107L, 108L, 109L);
      assertThat(itemIds).as("crash at %s #%d", point, crashAt)
          .containsExactly(1L, 2L, 3L, 4L, 5L, 100L, 101L, 102L, 103L, 104L, 200L, 201L, 202L, 203L, 204L);
      assertThat(b.committedPosition()).contains(Position.of(SOURCE, 60)); // min over tables: orders is at 60
    }
  }

  @Test
  void columnNameDeltaCannotStoreIsAClearError() {
    TableSchema bad = TableSchema.of(List.of(Column.of("order id", LogicalType.of(Kind.INT64))));
    DeltaHistoryApplier a = applier();
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(allocator, ORDERS, bad)) {
      b.startRow(ChangeKind.INSERT, 1, 0);
      try (ChangeBatch batch = b.build(BatchType.CHANGES, false, Position.of(SOURCE, 1))) {
        assertThatThrownBy(() -> a.apply(batch)).isInstanceOf(ConfigurationException.class)
            .hasMessageContaining("lb_orders_history: cannot create the history table: source column 'order id'"
                + " contains a character Delta cannot store without column mapping")
            .hasMessageEndingWith("Rename the column in the source, or leave the table out of the pipeline");
      }
    }
  }

  @Test
  void newSourceColumnStopsWithSchemaMismatch() {
    DeltaHistoryApplier a = applier();
    apply(a, inserts(ORDERS, BatchType.CHANGES, 1, 1, 1, false, false));
    TableSchema wider = TableSchema.of(List.of(SIMPLE.column(0), SIMPLE.column(1), Column.of("extra", LogicalType.of(Kind.INT32))));
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(allocator, ORDERS, wider)) {
      b.startRow(ChangeKind.INSERT, 2, 0);
      try (ChangeBatch batch = b.build(BatchType.CHANGES, false, Position.of(SOURCE, 2))) {
        assertThatThrownBy(() -> a.apply(batch)).isInstanceOf(SchemaMismatchException.class)
            .hasMessageContaining("lb_orders_history: cannot append to the history table: the source has a new column 'extra'")
            .hasMessageContaining("Delta Kernel cannot change a history table's schema");
      }
    }
  }

  @Test
  void validateListsEveryProblem() {
    List<String> problems = DeltaHistorySink.intoDirectory(" ").withTargetFileSize(10)
        .withSchemaEvolution(SchemaEvolution.ADD_COLUMNS).validate();
    assertThat(problems).hasSize(3);
    assertThat(problems.get(2)).startsWith("schema evolution ADD_COLUMNS is not supported");
    assertThatThrownBy(() -> DeltaHistorySink.intoDirectory("").open(new SinkContext("p", SyncMode.CONTINUOUS, "s")))
        .isInstanceOf(ConfigurationException.class).hasMessageStartingWith("delta history tables in : invalid configuration (1 problem)");
  }

  @Test
  void measuresAppendThroughput() throws Exception {
    DeltaHistoryApplier a = applier();
    apply(a, inserts(ORDERS, BatchType.CHANGES, 1, 0, 10, false, false));
    int batches = 20;
    int perBatch = 10_000;
    long t0 = System.nanoTime();
    for (int i = 0; i < batches; i++) {
      apply(a, inserts(ORDERS, BatchType.CHANGES, 10 + i, 1000L + (long) i * perBatch, perBatch, false, false));
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    System.out.printf("delta-sink: appended %d rows in %d commits in %.2f s: %.0f rows/s%n", batches * perBatch, batches,
        secs, batches * perBatch / secs);
    t0 = System.nanoTime();
    for (int i = 0; i < batches; i++) {
      apply(a, inserts(ORDERS, BatchType.CHANGES, 100, 1_000_000L + (long) i * perBatch, perBatch, i < batches - 1, false));
    }
    secs = (System.nanoTime() - t0) / 1e9;
    System.out.printf("delta-sink: appended %d rows of one transaction (partial batches) in %.2f s: %.0f rows/s%n",
        batches * perBatch, secs, batches * perBatch / secs);
    assertThat(rows(ORDERS)).hasSize(10 + 2 * batches * perBatch);
  }
}
