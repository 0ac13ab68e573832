package io.tidesync.postgres.sink;

import io.tidesync.SyncMode;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.Position;
import io.tidesync.spi.SinkContext;
import io.tidesync.spi.TableId;
import io.tidesync.spi.TableSchema;
import io.tidesync.testkit.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/** Batches from plain rows, and tables read back as plain rows, for the sink's tests. */
final class SinkTestSupport {
  static final String SOURCE = "test-source";
  static final TableId TABLE_ID = TableId.of("lake", "src");

  private SinkTestSupport() {}

  /** One change row: kind, commit version and the column values in schema order. */
  record R(ChangeKind kind, long version, List<Object> values) {}

  static R ins(long version, Object... values) {
    return new R(ChangeKind.INSERT, version, Arrays.asList(values));
  }

  static R post(long version, Object... values) {
    return new R(ChangeKind.UPDATE_POSTIMAGE, version, Arrays.asList(values));
  }

  static R pre(long version, Object... values) {
    return new R(ChangeKind.UPDATE_PREIMAGE, version, Arrays.asList(values));
  }

  static R del(long version, Object... values) {
    return new R(ChangeKind.DELETE, version, Arrays.asList(values));
  }

  static ChangeBatch changes(BufferAllocator a, TableSchema schema, long endPosition, List<R> rows) {
    return build(a, schema, BatchType.CHANGES, false, endPosition, rows);
  }

  static ChangeBatch snapshot(BufferAllocator a, TableSchema schema, boolean last, long endPosition, List<R> rows) {
    return build(a, schema, BatchType.SNAPSHOT, last, endPosition, rows);
  }

  static ChangeBatch build(BufferAllocator a, TableSchema schema, BatchType type, boolean last, long endPosition, List<R> rows) {
    try (ChangeBatchBuilder b = new ChangeBatchBuilder(a, TABLE_ID, schema)) {
      for (R r : rows) {
        b.startRow(r.kind(), r.version(), r.version() * 1000);
        for (int c = 0; c < r.values().size(); c++) {
          b.set(c, r.values().get(c));
        }
      }
      return b.build(type, last, Position.of(SOURCE, endPosition));
    }
  }

  static SinkContext context(String pipeline) {
    return new SinkContext(pipeline, SyncMode.TRIGGERED, "test source");
  }

  /** Applies and closes the batch. */
  static io.tidesync.spi.ApplyResult apply(ChangeApplier applier, ChangeBatch batch) {
    try (batch) {
      return applier.apply(batch);
    }
  }

  /**
   * The rows of {@code sql}, each value in the canonical Java form of its logical type (byte
   * arrays as hex strings so that lists compare by value).
   */
  static List<List<Object>> query(TestPostgres pg, TableSchema schema, String sql) {
    List<List<Object>> out = new ArrayList<>();
    try (Connection c = pg.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      while (rs.next()) {
        List<Object> row = new ArrayList<>();
        for (int i = 0; i < schema.size(); i++) {
          row.add(read(rs, i + 1, schema.column(i).type()));
        }
        out.add(row);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
    return out;
  }

  static Object read(ResultSet rs, int i, LogicalType t) throws SQLException {
    Object v = switch (t.kind()) {
      case BOOLEAN -> rs.getBoolean(i);
      case INT8 -> (byte) rs.getShort(i);
      case INT16 -> rs.getShort(i);
      case INT32 -> rs.getInt(i);
      case INT64 -> rs.getLong(i);
      case FLOAT32 -> rs.getFloat(i);
      case FLOAT64 -> rs.getDouble(i);
      case DECIMAL -> rs.getBigDecimal(i);
      case STRING, JSON -> rs.getString(i);
      case BINARY -> rs.getBytes(i);
      case DATE -> rs.getObject(i, java.time.LocalDate.class);
      case TIMESTAMP_TZ -> {
        OffsetDateTime o = rs.getObject(i, OffsetDateTime.class);
        yield o == null ? null : o.toInstant();
      }
      case TIMESTAMP_NTZ -> rs.getObject(i, java.time.LocalDateTime.class);
    };
    return rs.wasNull() ? null : canonical(v);
  }

  static Object canonical(Object v) {
    return v instanceof byte[] b ? "\\x" + HexFormat.of().formatHex(b) : v;
  }

  static List<Object> canonicalRow(List<Object> values) {
    List<Object> out = new ArrayList<>(values.size());
    for (Object v : values) {
      out.add(canonical(v));
    }
    return out;
  }

  static long count(TestPostgres pg, String from) {
    try (Connection c = pg.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM " + from)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  static String scalar(TestPostgres pg, String sql) {
    try (Connection c = pg.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      return rs.next() ? rs.getString(1) : null;
    } catch (SQLException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }
}
