package io.tidesync.postgres.sink;

import static io.tidesync.postgres.sink.SinkTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.LogicalType.Kind;
import io.tidesync.spi.TableSchema;
import io.tidesync.testkit.PostgresExtension;
import io.tidesync.testkit.TestPostgres;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Every logical type, with extreme values, goes in and comes back unchanged, in both apply modes. */
@ExtendWith(PostgresExtension.class)
class TypeRoundTripIT {
  static final TableSchema SCHEMA = TableSchema.of(List.of(
      Column.of("id", LogicalType.of(Kind.INT64)),
      Column.of("b", LogicalType.of(Kind.BOOLEAN)),
      Column.of("i8", LogicalType.of(Kind.INT8)),
      Column.of("i16", LogicalType.of(Kind.INT16)),
      Column.of("i32", LogicalType.of(Kind.INT32)),
      Column.of("i64", LogicalType.of(Kind.INT64)),
      Column.of("f32", LogicalType.of(Kind.FLOAT32)),
      Column.of("f64", LogicalType.of(Kind.FLOAT64)),
      Column.of("dec", LogicalType.decimal(38, 18)),
      Column.of("dec0", LogicalType.decimal(5, 0)),
      Column.of("s", LogicalType.of(Kind.STRING)),
      Column.of("bin", LogicalType.of(Kind.BINARY)),
      Column.of("d", LogicalType.of(Kind.DATE)),
      Column.of("ts", LogicalType.of(Kind.TIMESTAMP_TZ)),
      Column.of("ntz", LogicalType.of(Kind.TIMESTAMP_NTZ)),
      Column.of("j", LogicalType.json("struct<a:int>"))));

  static List<List<Object>> rows() {
    byte[] large = new byte[1 << 20];
    new Random(7).nextBytes(large);
    String longText = "ä€𝄞x".repeat(20_000);
    List<List<Object>> rows = new ArrayList<>();
    rows.add(Arrays.asList(1L, true, Byte.MIN_VALUE, Short.MIN_VALUE, Integer.MIN_VALUE, Long.MIN_VALUE, Float.MIN_VALUE,
        Double.MIN_VALUE, new BigDecimal("-99999999999999999999.999999999999999999"), new BigDecimal("-99999"), "",
        new byte[0], LocalDate.of(1, 1, 1), Instant.parse("0001-01-01T00:00:00.000001Z"),
        LocalDateTime.parse("0001-01-01T00:00:00.000001"), "{\"a\": 1, \"b\": [true, null, \"x\"]}"));
    rows.add(Arrays.asList(2L, false, Byte.MAX_VALUE, Short.MAX_VALUE, Integer.MAX_VALUE, Long.MAX_VALUE, Float.MAX_VALUE,
        Double.MAX_VALUE, new BigDecimal("99999999999999999999.999999999999999999"), new BigDecimal("99999"),
        "héllo wörld ✓ 𝄞 日本語 \"quoted\" 'single' \\ tab\t newline\n", large, LocalDate.of(9999, 12, 31),
        Instant.parse("9999-12-31T23:59:59.999999Z"), LocalDateTime.parse("9999-12-31T23:59:59.999999"), "[]"));
    rows.add(Arrays.asList(3L, true, (byte) 0, (short) 0, 0, 0L, Float.NaN, Double.NaN,
        new BigDecimal("0.000000000000000001"), new BigDecimal("0"), longText, new byte[] {0, 1, (byte) 0xFF},
        LocalDate.of(1970, 1, 1), Instant.parse("1970-01-01T00:00:00Z"), LocalDateTime.parse("2024-02-29T12:34:56.789012"),
        "\"text ✓\""));
    rows.add(Arrays.asList(4L, false, (byte) -1, (short) -1, -1, -1L, Float.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY,
        new BigDecimal("-0.000000000000000001"), new BigDecimal("-1"), "x", new byte[] {42}, LocalDate.of(2000, 1, 1),
        Instant.parse("1999-12-31T23:59:59.999999Z"), LocalDateTime.parse("1969-12-31T23:59:59.999999"), "null"));
    rows.add(Arrays.asList(5L, true, (byte) 1, (short) 1, 1, 1L, -0.0f, Double.NEGATIVE_INFINITY,
        new BigDecimal("12345678901234567890.123456789012345678"), new BigDecimal("10000"), "a", new byte[] {1},
        LocalDate.of(1582, 10, 4), Instant.parse("1582-10-04T12:00:00.5Z"), LocalDateTime.parse("1582-10-15T00:00:00"),
        "{\"n\": 1.5}"));
    List<Object> nulls = new ArrayList<>();
    nulls.add(6L);
    for (int i = 1; i < SCHEMA.size(); i++) {
      nulls.add(null);
    }
    rows.add(nulls);
    return rows;
  }

  @ParameterizedTest
  @EnumSource(value = ApplyMode.class, names = {"COPY_MERGE", "BATCHED_UPSERT"})
  void everyTypeRoundTrips(ApplyMode mode, TestPostgres pg) {
    String table = "types_" + mode.name().toLowerCase();
    PostgresSink sink = PostgresSink.forTable("public." + table).dataSource(pg.dataSource()).primaryKey("id").applyMode(mode);
    List<List<Object>> rows = rows();
    try (BufferAllocator alloc = new RootAllocator(); ChangeApplier applier = sink.open(context("types"))) {
      List<R> inserts = new ArrayList<>();
      for (List<Object> r : rows) {
        inserts.add(new R(io.tidesync.spi.ChangeKind.INSERT, 1, r));
      }
      ApplyResult first = apply(applier, changes(alloc, SCHEMA, 1, inserts));
      assertThat(first).isEqualTo(new ApplyResult(rows.size(), 0, 0, 0));
      assertThat(read(pg, table)).containsExactlyElementsOf(canonical(rows));

      // Updates take the same path with the rows shifted by one key: row k gets row k+1's values.
      List<List<Object>> shifted = new ArrayList<>();
      List<R> updates = new ArrayList<>();
      for (int k = 0; k < rows.size(); k++) {
        List<Object> values = new ArrayList<>(rows.get((k + 1) % rows.size()));
        values.set(0, rows.get(k).get(0));
        shifted.add(values);
        updates.add(pre(2, rows.get(k).toArray()));
        updates.add(post(2, values.toArray()));
      }
      ApplyResult second = apply(applier, changes(alloc, SCHEMA, 2, updates));
      assertThat(second).isEqualTo(new ApplyResult(0, rows.size(), 0, 0));
      assertThat(read(pg, table)).containsExactlyElementsOf(canonical(shifted));
    }
    assertThat(scalar(pg, "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute"
        + " WHERE attrelid = 'public." + table + "'::regclass AND attnum > 0"))
        .isEqualTo("bigint,boolean,smallint,smallint,integer,bigint,real,double precision,numeric(38,18),numeric(5,0),text,"
            + "bytea,date,timestamp with time zone,timestamp without time zone,jsonb");
  }

  private static List<List<Object>> read(TestPostgres pg, String table) {
    return query(pg, SCHEMA, "SELECT * FROM public." + table + " ORDER BY id");
  }

  private static List<List<Object>> canonical(List<List<Object>> rows) {
    List<List<Object>> out = new ArrayList<>();
    for (List<Object> r : rows) {
      out.add(canonicalRow(r));
    }
    return out;
  }
}
