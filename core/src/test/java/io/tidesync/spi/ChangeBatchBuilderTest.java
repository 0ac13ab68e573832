package io.tidesync.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ChangeBatchBuilderTest {
  private final BufferAllocator allocator = new RootAllocator(64L << 20);

  static final List<LogicalType> TYPES = List.of(
      LogicalType.of(LogicalType.Kind.BOOLEAN), LogicalType.of(LogicalType.Kind.INT8), LogicalType.of(LogicalType.Kind.INT16),
      LogicalType.of(LogicalType.Kind.INT32), LogicalType.of(LogicalType.Kind.INT64), LogicalType.of(LogicalType.Kind.FLOAT32),
      LogicalType.of(LogicalType.Kind.FLOAT64), LogicalType.decimal(38, 18), LogicalType.of(LogicalType.Kind.STRING),
      LogicalType.of(LogicalType.Kind.BINARY), LogicalType.of(LogicalType.Kind.DATE), LogicalType.of(LogicalType.Kind.TIMESTAMP_TZ),
      LogicalType.of(LogicalType.Kind.TIMESTAMP_NTZ), LogicalType.json("array<int>"));

  static TableSchema schema() {
    List<Column> cols = new ArrayList<>();
    for (int i = 0; i < TYPES.size(); i++) {
      cols.add(Column.of("c" + i, TYPES.get(i)));
    }
    return TableSchema.of(cols);
  }

  @AfterEach
  void noLeaks() {
    assertThat(allocator.getAllocatedMemory()).isZero();
    allocator.close();
  }

  @Test
  void everyKindRoundTripsIncludingExtremesAndNulls() {
    Object[] extremes = {true, Byte.MIN_VALUE, Short.MAX_VALUE, Integer.MIN_VALUE, Long.MAX_VALUE, Float.NaN,
        Double.NEGATIVE_INFINITY, new BigDecimal("-99999999999999999999.999999999999999999"), "z\u00fcrich \uD83D\uDE00 ",
        new byte[] {0, -1, 127}, LocalDate.of(1, 1, 1), Instant.parse("1582-10-04T23:59:59.999999Z"),
        LocalDateTime.parse("9999-12-31T23:59:59.999999"), "[1,null,3]"};
    TableSchema schema = schema();
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(allocator, TableId.of("", "t"), schema)) {
      b.startRow(ChangeKind.UPDATE_POSTIMAGE, 7, 1_000_001);
      for (int i = 0; i < extremes.length; i++) {
        b.set(i, extremes[i]);
      }
      b.startRow(ChangeKind.DELETE, 8, -5);
      try (ChangeBatch batch = b.build(BatchType.CHANGES, false, Position.of("s", 8))) {
        assertThat(batch.rowCount()).isEqualTo(2);
        for (int i = 0; i < extremes.length; i++) {
          assertThat(batch.value(i, 0)).as(TYPES.get(i).toString()).isEqualTo(extremes[i]);
          assertThat(batch.value(i, 1)).isNull();
          assertThat(batch.isNull(i, 1)).isTrue();
        }
        assertThat(batch.kind(0)).isEqualTo(ChangeKind.UPDATE_POSTIMAGE);
        assertThat(batch.kind(1)).isEqualTo(ChangeKind.DELETE);
        assertThat(batch.commitVersion(1)).isEqualTo(8);
        assertThat(batch.commitTimestampMicros(0)).isEqualTo(1_000_001);
        assertThat(batch.lastOfSnapshot()).isFalse();
      }
    }
  }

  @Test
  void randomValuesRoundTrip() {
    long seed = Long.getLong("tidesync.seed", new Random().nextLong());
    Random rnd = new Random(seed);
    TableSchema schema = TableSchema.of(List.of(Column.of("l", LogicalType.of(LogicalType.Kind.INT64)),
        Column.of("d", LogicalType.decimal(12, 2)), Column.of("s", LogicalType.of(LogicalType.Kind.STRING)),
        Column.of("t", LogicalType.of(LogicalType.Kind.TIMESTAMP_TZ))));
    List<Object[]> rows = new ArrayList<>();
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(allocator, TableId.of("", "t"), schema)) {
      for (int r = 0; r < 2000; r++) {
        Object[] row = {rnd.nextLong(), BigDecimal.valueOf(rnd.nextLong() % 10_000_000_000L, 2),
            rnd.nextInt(5) == 0 ? null : Long.toString(rnd.nextLong(), 36).repeat(rnd.nextInt(4)),
            Instant.ofEpochSecond(rnd.nextInt(), rnd.nextInt(1_000_000) * 1000L)};
        rows.add(row);
        b.startRow(ChangeKind.INSERT, r, r);
        for (int i = 0; i < row.length; i++) {
          b.set(i, row[i]);
        }
      }
      try (ChangeBatch batch = b.build(BatchType.SNAPSHOT, true, Position.of("s", 1))) {
        for (int r = 0; r < rows.size(); r++) {
          for (int i = 0; i < 4; i++) {
            assertThat(batch.value(i, r)).as("seed %d row %d col %d", seed, r, i).isEqualTo(rows.get(r)[i]);
          }
        }
        assertThat(batch.lastOfSnapshot()).isTrue();
      }
    }
  }

  @Test
  void wrongValueTypesAndRoundingAreClearErrors() {
    TableSchema schema = TableSchema.of(List.of(Column.of("amount", LogicalType.decimal(10, 2)),
        Column.of("day", LogicalType.of(LogicalType.Kind.DATE))));
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(allocator, TableId.of("", "t"), schema)) {
      b.startRow(ChangeKind.INSERT, 0, 0);
      assertThatThrownBy(() -> b.set(0, new BigDecimal("1.005")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("column 'amount' of type decimal(10,2) cannot hold BigDecimal value: Rounding necessary");
      assertThatThrownBy(() -> b.set(1, "2020-01-01"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("column 'day' of type date cannot hold String value");
    }
  }

  @Test
  void partialTransactionBatchesAndTransactionIds() {
    TableSchema schema = TableSchema.of(List.of(Column.of("s", LogicalType.of(LogicalType.Kind.STRING))));
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(allocator, TableId.of("", "t"), schema)) {
      b.startRow(ChangeKind.INSERT, 100, 0, 733);
      b.startRow(ChangeKind.INSERT, 100, 0);
      try (ChangeBatch batch = b.buildPartialTransaction(Position.of("pg", 100))) {
        assertThat(batch.isPartial()).isTrue();
        assertThat(batch.type()).isEqualTo(BatchType.CHANGES);
        assertThat(batch.transactionId(0)).isEqualTo(733);
        assertThat(batch.transactionId(1)).isEqualTo(-1);
      }
    }
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(allocator, TableId.of("", "t"), schema)) {
      try (ChangeBatch batch = b.build(BatchType.SNAPSHOT, false, Position.of("pg", 1))) {
        assertThat(batch.isPartial()).as("a snapshot batch before the last one").isTrue();
      }
    }
  }

  @Test
  void estimatedBytesGrowsWithVariableWidthData() {
    TableSchema schema = TableSchema.of(List.of(Column.of("s", LogicalType.of(LogicalType.Kind.STRING))));
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(allocator, TableId.of("", "t"), schema)) {
      b.startRow(ChangeKind.INSERT, 0, 0);
      b.set(0, "x".repeat(100_000));
      assertThat(b.estimatedBytes()).isGreaterThanOrEqualTo(100_000);
    }
  }

  @Test
  void schemaRejectsDuplicateColumnsAndUnknownKeys() {
    LogicalType t = LogicalType.of(LogicalType.Kind.INT32);
    assertThatThrownBy(() -> TableSchema.of(List.of(Column.of("a", t), Column.of("a", t))))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("duplicate column name 'a'");
    assertThatThrownBy(() -> TableSchema.of(List.of(Column.of("a", t)), List.of("b")))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("primary key column 'b' is not a column of [a]");
    assertThatThrownBy(() -> LogicalType.decimal(39, 2))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("decimal(39,2) is out of range: precision 1..38, scale 0..precision");
  }

  @Test
  void positionsAndChangeKindsParse() {
    assertThat(Position.of("delta:/t", 42).offsetAsLong()).isEqualTo(42);
    assertThatThrownBy(() -> new Position("s", "3#7").offsetAsLong()).isInstanceOf(IllegalStateException.class)
        .hasMessage("position offset '3#7' of s is not a number");
    for (ChangeKind k : ChangeKind.values()) {
      assertThat(ChangeKind.ofCdfName(k.cdfName())).isEqualTo(k);
      assertThat(ChangeKind.ofCode(k.code())).isEqualTo(k);
    }
    assertThat(new TokenProvider.Token("secret-value", Instant.EPOCH).toString()).doesNotContain("secret");
  }
}
