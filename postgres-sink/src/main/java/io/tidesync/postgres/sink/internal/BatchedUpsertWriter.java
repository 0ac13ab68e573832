package io.tidesync.postgres.sink.internal;

import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.TableSchema;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.List;

/**
 * {@code BATCHED_UPSERT}: JDBC batches of {@code DELETE .. WHERE key} for the deleted keys, then
 * of {@code INSERT .. ON CONFLICT (key) DO UPDATE} for the others, {@value #CHUNK} rows per round
 * trip. The returned {@code xmax} tells inserts (0) from updates.
 */
final class BatchedUpsertWriter implements ChangeWriter {
  private static final int CHUNK = 1000;

  private final Connection conn;
  private final TargetTable target;
  private final boolean stripNul;

  BatchedUpsertWriter(Connection conn, TargetTable target, boolean stripNul) {
    this.conn = conn;
    this.target = target;
    this.stripNul = stripNul;
  }

  @Override
  public String mode() {
    return "BATCHED_UPSERT";
  }

  @Override
  public ApplyResult write(ChangeBatch batch, TargetPlan p, ChangeReducer.Reduced reduced) throws SQLException {
    TableSchema schema = batch.schema();
    List<String> cols = schema.names();
    StringBuilder values = new StringBuilder();
    for (int i = 0; i < cols.size(); i++) {
      values.append(i == 0 ? "" : ", ").append(p.valueExpr(i, "CAST(? AS " + PgTypes.wire(schema.column(i).type()) + ")"));
    }
    String upsertSql = "INSERT INTO " + target.qualified + " (" + TargetTable.columnList(cols) + ") VALUES (" + values
        + ") ON CONFLICT (" + TargetTable.columnList(p.keyNames) + ") " + p.onConflictAction();
    StringBuilder where = new StringBuilder();
    for (int k = 0; k < p.keyIdx.length; k++) {
      int c = p.keyIdx[k];
      where.append(k == 0 ? "" : " AND ").append(Identifiers.quote(cols.get(c))).append(" = ")
          .append(p.valueExpr(c, "CAST(? AS " + PgTypes.wire(schema.column(c).type()) + ")"));
    }
    String deleteSql = "DELETE FROM " + target.qualified + " WHERE " + where;
    long deleted = 0;
    long upserts = 0;
    long inserted = 0;
    try (PreparedStatement del = conn.prepareStatement(deleteSql)) {
      int pending = 0;
      for (int i = 0; i < reduced.count(); i++) {
        if (!reduced.deletes()[i]) {
          continue;
        }
        int row = reduced.rows()[i];
        for (int k = 0; k < p.keyIdx.length; k++) {
          bind(del, k + 1, batch, p.keyIdx[k], row);
        }
        del.addBatch();
        if (++pending == CHUNK) {
          deleted += sum(del.executeBatch());
          pending = 0;
        }
      }
      if (pending > 0) {
        deleted += sum(del.executeBatch());
      }
    }
    // "xmax" = 0 in the returned row tells an insert from an update (a conflict sets xmax).
    try (PreparedStatement up = conn.prepareStatement(upsertSql, new String[] {"xmax"})) {
      int pending = 0;
      for (int i = 0; i < reduced.count(); i++) {
        if (reduced.deletes()[i]) {
          continue;
        }
        int row = reduced.rows()[i];
        for (int c = 0; c < cols.size(); c++) {
          bind(up, c + 1, batch, c, row);
        }
        up.addBatch();
        upserts++;
        if (++pending == CHUNK) {
          inserted += executeCountingInserts(up);
          pending = 0;
        }
      }
      if (pending > 0) {
        inserted += executeCountingInserts(up);
      }
    }
    FaultPoint.AFTER_STAGE.pass();
    return new ApplyResult(inserted, upserts - inserted, deleted, 0);
  }

  private static long executeCountingInserts(PreparedStatement ps) throws SQLException {
    ps.executeBatch();
    long inserted = 0;
    try (ResultSet rs = ps.getGeneratedKeys()) {
      while (rs.next()) {
        if ("0".equals(rs.getString(1))) {
          inserted++;
        }
      }
    }
    return inserted;
  }

  private static long sum(int[] counts) {
    long n = 0;
    for (int c : counts) {
      n += Math.max(c, 0);
    }
    return n;
  }

  private void bind(PreparedStatement ps, int index, ChangeBatch batch, int column, int row) throws SQLException {
    if (batch.isNull(column, row)) {
      ps.setNull(index, Types.NULL);
      return;
    }
    LogicalType.Kind kind = batch.schema().column(column).type().kind();
    Object v = batch.value(column, row);
    switch (kind) {
      case BOOLEAN -> ps.setBoolean(index, (Boolean) v);
      case INT8 -> ps.setShort(index, (Byte) v);
      case INT16 -> ps.setShort(index, (Short) v);
      case INT32 -> ps.setInt(index, (Integer) v);
      case INT64 -> ps.setLong(index, (Long) v);
      case FLOAT32 -> ps.setFloat(index, (Float) v);
      case FLOAT64 -> ps.setDouble(index, (Double) v);
      case DECIMAL -> ps.setBigDecimal(index, (java.math.BigDecimal) v);
      case STRING, JSON -> {
        String s = (String) v;
        ps.setString(index, stripNul ? s.replace("\0", "") : s);
      }
      case BINARY -> ps.setBytes(index, (byte[]) v);
      case DATE -> ps.setObject(index, v);
      case TIMESTAMP_TZ -> ps.setObject(index, ((java.time.Instant) v).atOffset(ZoneOffset.UTC));
      case TIMESTAMP_NTZ -> ps.setObject(index, (LocalDateTime) v);
      default -> throw new IllegalStateException("unhandled type " + kind);
    }
  }
}
