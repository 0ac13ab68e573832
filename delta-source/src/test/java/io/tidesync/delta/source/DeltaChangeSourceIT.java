package io.tidesync.delta.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.delta.kernel.types.ArrayType;
import io.delta.kernel.types.BinaryType;
import io.delta.kernel.types.BooleanType;
import io.delta.kernel.types.DateType;
import io.delta.kernel.types.DecimalType;
import io.delta.kernel.types.DoubleType;
import io.delta.kernel.types.IntegerType;
import io.delta.kernel.types.LongType;
import io.delta.kernel.types.MapType;
import io.delta.kernel.types.StringType;
import io.delta.kernel.types.StructType;
import io.delta.kernel.types.TimestampNTZType;
import io.delta.kernel.types.TimestampType;
import io.tidesync.ConfigurationException;
import io.tidesync.SourcePositionLostException;
import io.tidesync.SyncMode;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.Position;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SourceContext;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DeltaChangeSourceIT {
  static final StructType SCHEMA = new StructType().add("id", LongType.LONG, false).add("name", StringType.STRING);

  @TempDir Path tmp;
  BufferAllocator allocator;

  @BeforeEach
  void setUp() {
    allocator = new RootAllocator(256L << 20);
  }

  @AfterEach
  void tearDown() {
    allocator.close(); // fails on leaked buffers
  }

  SourceContext ctx(int maxRows) {
    return new SourceContext("p", allocator, maxRows, Long.MAX_VALUE);
  }

  static List<Object[]> rows(long from, long to) {
    List<Object[]> out = new ArrayList<>();
    for (long i = from; i <= to; i++) {
      out.add(new Object[] {i, "n" + i});
    }
    return out;
  }

  /** One polled batch, read into plain values. */
  record Batch(BatchType type, boolean last, String endOffset, List<Map<String, Object>> rows) {}

  static List<Batch> drain(ChangeReader r) {
    List<Batch> out = new ArrayList<>();
    while (true) {
      try (ChangeBatch b = r.poll()) {
        if (b == null) {
          return out;
        }
        out.add(new Batch(b.type(), b.lastOfSnapshot(), b.endPosition().offset(), toMaps(b)));
      }
    }
  }

  static List<Map<String, Object>> toMaps(ChangeBatch b) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (int row = 0; row < b.rowCount(); row++) {
      Map<String, Object> m = new LinkedHashMap<>();
      for (int c = 0; c < b.schema().size(); c++) {
        m.put(b.schema().column(c).name(), b.value(c, row));
      }
      m.put("_change_type", b.kind(row).cdfName());
      m.put("_commit_version", b.commitVersion(row));
      m.put("_commit_timestamp", Instant.EPOCH.plusNanos(b.commitTimestampMicros(row) * 1000));
      out.add(m);
    }
    return out;
  }

  static List<String> idsAndKinds(List<Batch> batches) {
    List<String> out = new ArrayList<>();
    for (Batch b : batches) {
      for (Map<String, Object> r : b.rows()) {
        out.add(r.get("_commit_version") + ":" + r.get("_change_type") + ":" + r.get("id"));
      }
    }
    return out;
  }

  ChangeReader openChanges(Path table, String offset, int maxRows) {
    DeltaChangeSource src = DeltaChangeSource.forPath(table.toString());
    return src.open(new ReadRequest(SyncMode.TRIGGERED, Optional.of(new Position(src.location(), offset))), ctx(maxRows));
  }

  ChangeReader openSnapshot(DeltaChangeSource src, int maxRows) {
    return src.open(new ReadRequest(SyncMode.SNAPSHOT, Optional.empty()), ctx(maxRows));
  }

  @Test
  void snapshotReadsEveryLiveRowAtTheLatestVersionInBatches() {
    Path t = tmp.resolve("t");
    KernelTables.createWithCdf(t, SCHEMA);
    KernelTables.append(t, rows(1, 3));
    long v2 = KernelTables.append(t, rows(4, 5));
    DeltaChangeSource src = DeltaChangeSource.forPath(t.toString());
    try (ChangeReader r = openSnapshot(src, 2)) {
      List<Batch> batches = drain(r);
      assertThat(batches).extracting(Batch::type).containsOnly(BatchType.SNAPSHOT);
      assertThat(batches).extracting(Batch::last).containsExactly(false, false, true);
      assertThat(batches).extracting(Batch::endOffset).containsOnly(Long.toString(v2));
      assertThat(idsAndKinds(batches)).containsExactlyInAnyOrder("2:insert:1", "2:insert:2", "2:insert:3",
          "2:insert:4", "2:insert:5");
      Map<String, Object> first = batches.get(0).rows().get(0);
      assertThat(first.get("name")).isEqualTo("n" + first.get("id"));
    }
    // snapshot at an older version, then changes continue in TRIGGERED mode
    try (ChangeReader r = src.withSnapshotVersion(1).open(new ReadRequest(SyncMode.TRIGGERED, Optional.empty()), ctx(100))) {
      List<Batch> batches = drain(r);
      assertThat(batches).hasSize(2);
      assertThat(batches.get(0).type()).isEqualTo(BatchType.SNAPSHOT);
      assertThat(batches.get(0).last()).isTrue();
      assertThat(batches.get(0).endOffset()).isEqualTo("1");
      assertThat(batches.get(1).type()).isEqualTo(BatchType.CHANGES);
      assertThat(idsAndKinds(batches)).containsExactlyInAnyOrder("1:insert:1", "1:insert:2", "1:insert:3",
          "2:insert:4", "2:insert:5");
      assertThat(batches.get(1).endOffset()).isEqualTo("2");
    }
  }

  @Test
  void emptyTableSnapshotIsOneEmptyLastBatch() {
    Path t = tmp.resolve("t");
    KernelTables.createWithCdf(t, SCHEMA);
    try (ChangeReader r = openSnapshot(DeltaChangeSource.forPath(t.toString()), 10)) {
      List<Batch> batches = drain(r);
      assertThat(batches).hasSize(1);
      assertThat(batches.get(0).last()).isTrue();
      assertThat(batches.get(0).rows()).isEmpty();
      assertThat(batches.get(0).endOffset()).isEqualTo("0");
    }
  }

  @Test
  void changesAreInsertsOfAddsAndDeletesOfRemovedFiles() {
    Path t = tmp.resolve("t");
    KernelTables.createWithCdf(t, SCHEMA);
    KernelTables.append(t, rows(1, 2));
    KernelTables.append(t, rows(3, 3));
    long v3 = KernelTables.removeFiles(t, null); // every file: deletes rows 1..3
    try (ChangeReader r = openChanges(t, "0", 100)) {
      List<Batch> batches = drain(r);
      assertThat(batches).hasSize(1);
      assertThat(batches.get(0).endOffset()).isEqualTo(Long.toString(v3));
      assertThat(idsAndKinds(batches)).containsExactlyInAnyOrder("1:insert:1", "1:insert:2", "2:insert:3",
          "3:delete:1", "3:delete:2", "3:delete:3");
      for (Map<String, Object> row : batches.get(0).rows()) {
        assertThat(row.get("name")).isEqualTo("n" + row.get("id"));
      }
    }
    // changes after the latest version: nothing
    try (ChangeReader r = openChanges(t, "3", 100)) {
      assertThat(r.poll()).isNull();
    }
  }

  @Test
  void commitTimestampsAreTheCommitsTimestamps() throws IOException {
    Path t = tmp.resolve("t");
    KernelTables.createWithCdf(t, SCHEMA);
    KernelTables.append(t, rows(1, 1));
    Instant mtime = Files.getLastModifiedTime(t.resolve("_delta_log/00000000000000000001.json")).toInstant();
    try (ChangeReader r = openChanges(t, "0", 100)) {
      List<Batch> batches = drain(r);
      Instant ts = (Instant) batches.get(0).rows().get(0).get("_commit_timestamp");
      assertThat(ts.toEpochMilli()).isEqualTo(mtime.toEpochMilli());
    }
  }

  @Test
  void largeVersionSpansBatchesWithResumablePositions() {
    Path t = tmp.resolve("t");
    KernelTables.createWithCdf(t, SCHEMA);
    KernelTables.append(t, rows(1, 5));
    KernelTables.append(t, rows(6, 6));
    List<Batch> batches;
    try (ChangeReader r = openChanges(t, "0", 2)) {
      batches = drain(r);
    }
    assertThat(batches).extracting(Batch::endOffset).containsExactly("1#2", "1#4", "2");
    List<String> all = idsAndKinds(batches);
    assertThat(all).hasSize(6);
    // a reader opened mid-version re-reads it and skips what was applied
    try (ChangeReader r = openChanges(t, "1#2", 100)) {
      List<Batch> rest = drain(r);
      assertThat(idsAndKinds(rest)).containsExactlyElementsOf(all.subList(2, 6));
      assertThat(rest.get(rest.size() - 1).endOffset()).isEqualTo("2");
    }
  }

  @Test
  void continuousReaderSeesNewCommitsAfterCatchingUp() {
    Path t = tmp.resolve("t");
    KernelTables.createWithCdf(t, SCHEMA);
    try (ChangeReader r = openChanges(t, "0", 100)) {
      assertThat(r.poll()).isNull();
      KernelTables.append(t, rows(1, 2));
      try (ChangeBatch b = r.poll()) {
        assertThat(b.rowCount()).isEqualTo(2);
        assertThat(b.endPosition().offset()).isEqualTo("1");
      }
      assertThat(r.poll()).isNull();
      KernelTables.setProperties(t, Map.of("delta.appendOnly", "false")); // a commit without rows
      try (ChangeBatch b = r.poll()) {
        assertThat(b.rowCount()).isZero();
        assertThat(b.endPosition().offset()).isEqualTo("2");
      }
      assertThat(r.poll()).isNull();
    }
  }

  @Test
  void partitionValuesComeFromTheLog() {
    Path t = tmp.resolve("t");
    StructType schema = new StructType().add("id", LongType.LONG).add("region", StringType.STRING);
    KernelTables.create(t, schema, Map.of("delta.enableChangeDataFeed", "true"), List.of("region"));
    KernelTables.append(t, List.of(new Object[] {1L, "eu"}, new Object[] {2L, "eu"}),
        Map.of("region", io.delta.kernel.expressions.Literal.ofString("eu")));
    KernelTables.append(t, List.<Object[]>of(new Object[] {3L, "us"}),
        Map.of("region", io.delta.kernel.expressions.Literal.ofString("us")));
    KernelTables.removeFiles(t, "region=eu");
    try (ChangeReader r = openChanges(t, "0", 100)) {
      List<String> got = new ArrayList<>();
      for (Batch b : drain(r)) {
        for (Map<String, Object> row : b.rows()) {
          got.add(row.get("_commit_version") + ":" + row.get("_change_type") + ":" + row.get("id") + ":" + row.get("region"));
        }
      }
      assertThat(got).containsExactlyInAnyOrder("1:insert:1:eu", "1:insert:2:eu", "2:insert:3:us", "3:delete:1:eu",
          "3:delete:2:eu");
    }
    try (ChangeReader r = openSnapshot(DeltaChangeSource.forPath(t.toString()), 100)) {
      List<Batch> b = drain(r);
      assertThat(b.get(0).rows()).extracting(m -> m.get("id") + ":" + m.get("region")).containsExactly("3:us");
    }
  }

  @Test
  void typesMapToLogicalTypesAndNestedValuesToJson() {
    Path t = tmp.resolve("t");
    StructType schema = new StructType()
        .add("b", BooleanType.BOOLEAN)
        .add("i", IntegerType.INTEGER)
        .add("d", DoubleType.DOUBLE)
        .add("dec", new DecimalType(10, 2))
        .add("bin", BinaryType.BINARY)
        .add("day", DateType.DATE)
        .add("ts", TimestampType.TIMESTAMP)
        .add("ntz", TimestampNTZType.TIMESTAMP_NTZ)
        .add("arr", new ArrayType(IntegerType.INTEGER, true))
        .add("m", new MapType(StringType.STRING, LongType.LONG, true))
        .add("s", new StructType().add("x", IntegerType.INTEGER).add("y", StringType.STRING));
    KernelTables.createWithCdf(t, schema);
    StructType inner = new StructType().add("x", IntegerType.INTEGER).add("y", StringType.STRING);
    Object[] row = {true, 7, 1.5d, new BigDecimal("12.34"), new byte[] {1, 2}, 19000, 1_700_000_000_123_456L,
        1_700_000_000_000_001L, null, null, new io.delta.kernel.internal.data.GenericRow(inner, Map.of(0, 1))};
    Object[] nulls = new Object[11];
    nulls[10] = new io.delta.kernel.internal.data.GenericRow(inner, Map.of());
    KernelTables.append(t, List.of(row, nulls));
    try (ChangeReader r = openSnapshot(DeltaChangeSource.forPath(t.toString()), 100); ChangeBatch b = r.poll()) {
      assertThat(b.schema().columns()).extracting(c -> c.type().kind()).containsExactly(LogicalType.Kind.BOOLEAN,
          LogicalType.Kind.INT32, LogicalType.Kind.FLOAT64, LogicalType.Kind.DECIMAL, LogicalType.Kind.BINARY,
          LogicalType.Kind.DATE, LogicalType.Kind.TIMESTAMP_TZ, LogicalType.Kind.TIMESTAMP_NTZ, LogicalType.Kind.JSON,
          LogicalType.Kind.JSON, LogicalType.Kind.JSON);
      assertThat(b.schema().columns()).extracting(c -> c.type().sourceType()).containsExactly("boolean", "int",
          "double", "decimal(10,2)", "binary", "date", "timestamp", "timestamp_ntz", "array<int>",
          "map<string,bigint>", "struct<x:int,y:string>");
      List<Map<String, Object>> maps = toMaps(b);
      Map<String, Object> full = maps.get(0).get("b") == null ? maps.get(1) : maps.get(0);
      assertThat(full.get("b")).isEqualTo(true);
      assertThat(full.get("i")).isEqualTo(7);
      assertThat(full.get("d")).isEqualTo(1.5d);
      assertThat(full.get("dec")).isEqualTo(new BigDecimal("12.34"));
      assertThat((byte[]) full.get("bin")).containsExactly(1, 2);
      assertThat(full.get("day")).isEqualTo(LocalDate.ofEpochDay(19000));
      assertThat(full.get("ts")).isEqualTo(Instant.ofEpochSecond(1_700_000_000L, 123_456_000L));
      assertThat(full.get("ntz")).isEqualTo(LocalDateTime.of(2023, 11, 14, 22, 13, 20, 1000));
      Map<String, Object> empty = maps.get(0).get("b") == null ? maps.get(0) : maps.get(1);
      assertThat(empty.values().stream().limit(10)).containsOnlyNulls();
      assertThat(empty.get("s")).isEqualTo("{\"x\":null,\"y\":null}");
      assertThat(full.get("s")).isEqualTo("{\"x\":1,\"y\":null}");
    }
  }

  @Test
  void nestedValuesAreJsonText() {
    Path t = tmp.resolve("t");
    StructType inner = new StructType().add("x", IntegerType.INTEGER).add("y", StringType.STRING);
    StructType schema = new StructType().add("id", LongType.LONG).add("s", inner);
    KernelTables.createWithCdf(t, schema);
    io.delta.kernel.internal.data.GenericRow s = new io.delta.kernel.internal.data.GenericRow(inner,
        Map.of(0, 5, 1, "a\"b"));
    KernelTables.append(t, List.<Object[]>of(new Object[] {1L, s}));
    try (ChangeReader r = openSnapshot(DeltaChangeSource.forPath(t.toString()), 100); ChangeBatch b = r.poll()) {
      assertThat(b.value(1, 0)).isEqualTo("{\"x\":5,\"y\":\"a\\\"b\"}");
    }
  }

  // ------------------------------------------------------------------ errors

  @Test
  void missingTableIsAConfigurationError() {
    Path t = tmp.resolve("nothing-here");
    DeltaChangeSource src = DeltaChangeSource.forPath(t.toString());
    assertThatThrownBy(() -> openSnapshot(src, 10))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage(src.location() + ": cannot open the Delta table: there is no Delta table (no _delta_log) at this "
            + "location. Check the path passed to DeltaChangeSource.forPath");
  }

  @Test
  void positionOfAnotherTableIsRejected() {
    Path t = tmp.resolve("t");
    KernelTables.createWithCdf(t, SCHEMA);
    DeltaChangeSource src = DeltaChangeSource.forPath(t.toString());
    Position other = new Position("file:/elsewhere/orders", "0");
    assertThatThrownBy(() -> src.open(new ReadRequest(SyncMode.TRIGGERED, Optional.of(other)), ctx(10)))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage(src.location() + ": cannot continue from position file:/elsewhere/orders@0: it belongs to "
            + "file:/elsewhere/orders, not to this table. Use a new pipeline name for this table (or point the pipeline "
            + "back at file:/elsewhere/orders)");
  }

  @Test
  void positionAheadOfTheTableIsRejected() {
    Path t = tmp.resolve("t");
    KernelTables.createWithCdf(t, SCHEMA);
    String loc = DeltaChangeSource.forPath(t.toString()).location();
    assertThatThrownBy(() -> openChanges(t, "5", 10))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage(loc + ": cannot continue from version 5: the table's latest version is 0, behind the position (was "
            + "the table re-created or restored from an older copy?). Use a new pipeline name to start over with a snapshot");
    assertThatThrownBy(() -> openChanges(t, "x1", 10))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("offset 'x1' is not a Delta position");
  }

  @Test
  void changeDataFeedNotEnabledIsAClearErrorOrAResnapshot() {
    Path t = tmp.resolve("t");
    KernelTables.create(t, SCHEMA, Map.of(), List.of());
    KernelTables.append(t, rows(1, 2));
    KernelTables.setProperties(t, Map.of("delta.enableChangeDataFeed", "true"));
    KernelTables.append(t, rows(3, 3));
    String loc = DeltaChangeSource.forPath(t.toString()).location();
    assertThatThrownBy(() -> openChanges(t, "0", 10))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage(loc + ": cannot read changes of versions 1..3: Change Data Feed is not enabled at version 1. Enable "
            + "delta.enableChangeDataFeed and re-snapshot (or opt in with onPositionLost(RESNAPSHOT))");
    // from the version that enabled it, changes read fine
    try (ChangeReader r = openChanges(t, "1", 10)) {
      assertThat(idsAndKinds(drain(r))).containsExactly("3:insert:3");
    }
    DeltaChangeSource resnap = DeltaChangeSource.forPath(t.toString()).onPositionLost(PositionLostPolicy.RESNAPSHOT);
    try (ChangeReader r = resnap.open(new ReadRequest(SyncMode.TRIGGERED, Optional.of(new Position(loc, "0"))), ctx(10))) {
      List<Batch> batches = drain(r);
      assertThat(batches).hasSize(1);
      assertThat(batches.get(0).type()).isEqualTo(BatchType.SNAPSHOT);
      assertThat(batches.get(0).endOffset()).isEqualTo("3");
      assertThat(idsAndKinds(batches)).containsExactlyInAnyOrder("3:insert:1", "3:insert:2", "3:insert:3");
    }
  }

  @Test
  void startVersionRemovedFromTheLogIsPositionLost() throws IOException {
    Path t = tmp.resolve("t");
    KernelTables.createWithCdf(t, SCHEMA);
    for (int i = 1; i <= 4; i++) {
      KernelTables.append(t, rows(i, i));
    }
    KernelTables.checkpoint(t); // at version 4
    KernelTables.append(t, rows(5, 5));
    try (Stream<Path> files = Files.list(t.resolve("_delta_log"))) {
      for (Path f : files.toList()) {
        String n = f.getFileName().toString();
        if (n.matches("0000000000000000000[0-3]\\.json")) {
          Files.delete(f);
        }
      }
    }
    String loc = DeltaChangeSource.forPath(t.toString()).location();
    assertThatThrownBy(() -> openChanges(t, "1", 10))
        .isInstanceOf(SourcePositionLostException.class)
        .hasMessageStartingWith(loc + ": cannot read changes from version 2: the version is no longer in the Delta log "
            + "(log cleanup or VACUUM removed it: ")
        .hasMessageEndingWith("Re-snapshot the table: use a new pipeline name, or opt in with onPositionLost(RESNAPSHOT)");
    // still readable from the checkpoint on
    try (ChangeReader r = openChanges(t, "4", 10)) {
      assertThat(idsAndKinds(drain(r))).containsExactly("5:insert:5");
    }
    DeltaChangeSource resnap = DeltaChangeSource.forPath(t.toString()).onPositionLost(PositionLostPolicy.RESNAPSHOT);
    try (ChangeReader r = resnap.open(new ReadRequest(SyncMode.TRIGGERED, Optional.of(new Position(loc, "1"))), ctx(100))) {
      List<Batch> batches = drain(r);
      assertThat(batches.get(0).type()).isEqualTo(BatchType.SNAPSHOT);
      assertThat(idsAndKinds(batches)).hasSize(5).allMatch(s -> s.startsWith("5:insert:"));
    }
  }
}
