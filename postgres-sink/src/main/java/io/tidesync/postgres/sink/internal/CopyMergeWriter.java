package io.tidesync.postgres.sink.internal;

import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.ChangeBatch;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code COPY_MERGE}: binary COPY of the reduced rows (with an op column) into a temporary
 * staging table, then one MERGE into the target (PostgreSQL 15+), or DELETE .. USING plus
 * INSERT .. ON CONFLICT before 15. Counts come from {@code RETURNING merge_action()} on 17+.
 */
final class CopyMergeWriter implements ChangeWriter {
  /** TEST SUPPORT ONLY: forces the pre-MERGE path (INSERT .. ON CONFLICT + DELETE .. USING). */
  static volatile boolean forceOnConflictForTests;

  private final Connection conn;
  private final int serverMajor;
  private final TargetTable target;
  private final boolean stripNul;

  CopyMergeWriter(Connection conn, int serverMajor, TargetTable target, boolean stripNul) {
    this.conn = conn;
    this.serverMajor = serverMajor;
    this.target = target;
    this.stripNul = stripNul;
  }

  @Override
  public String mode() {
    return "COPY_MERGE";
  }

  @Override
  public ApplyResult write(ChangeBatch batch, TargetPlan p, ChangeReducer.Reduced reduced) throws SQLException {
    StagingTable.create(conn, p, true);
    List<String> stagedColumns = new ArrayList<>(p.columnNames());
    stagedColumns.add(p.opColumn);
    PgBinaryCopyWriter.copy(conn, StagingTable.NAME, stagedColumns, batch, p.isKey, stripNul, reduced.rows(),
        reduced.count(), reduced.deletes());
    FaultPoint.AFTER_STAGE.pass();
    if (serverMajor >= 15 && !forceOnConflictForTests) {
      return merge(p, reduced);
    }
    return deleteThenUpsert(p);
  }

  private ApplyResult merge(TargetPlan p, ChangeReducer.Reduced reduced) throws SQLException {
    String on = p.keyJoin("t", "s");
    String sOp = "s." + Identifiers.quote(p.opColumn);
    StringBuilder sql = new StringBuilder("MERGE INTO ").append(target.qualified).append(" AS t USING ")
        .append(StagingTable.NAME).append(" AS s ON ").append(on)
        .append(" WHEN MATCHED AND ").append(sOp).append(" = 1 THEN DELETE");
    if (p.nonKeyIdx.length > 0) {
      sql.append(" WHEN MATCHED AND ").append(sOp).append(" = 0 THEN UPDATE SET ").append(p.updateSet("s"));
    }
    sql.append(" WHEN NOT MATCHED AND ").append(sOp).append(" = 0 THEN INSERT (")
        .append(TargetTable.columnList(p.columnNames())).append(") VALUES (").append(p.stagedValues("s")).append(')');
    long inserted = 0;
    long updated = 0;
    long deleted = 0;
    if (serverMajor >= 17) {
      sql.append(" RETURNING merge_action()");
      try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery(sql.toString())) {
        while (rs.next()) {
          switch (rs.getString(1)) {
            case "INSERT" -> inserted++;
            case "UPDATE" -> updated++;
            default -> deleted++;
          }
        }
      }
      return new ApplyResult(inserted, updated, deleted, 0);
    }
    long upserts = reduced.count() - reduced.deleteCount();
    long matched;
    try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FILTER (WHERE "
        + sOp + " = 0), count(*) FILTER (WHERE " + sOp + " = 1) FROM " + StagingTable.NAME + " AS s JOIN "
        + target.qualified + " AS t ON " + on)) {
      rs.next();
      matched = rs.getLong(1);
      deleted = rs.getLong(2);
    }
    try (Statement s = conn.createStatement()) {
      s.executeUpdate(sql.toString());
    }
    return new ApplyResult(upserts - matched, matched, deleted, 0);
  }

  private ApplyResult deleteThenUpsert(TargetPlan p) throws SQLException {
    String sOp = "s." + Identifiers.quote(p.opColumn);
    long deleted;
    try (Statement s = conn.createStatement()) {
      deleted = s.executeUpdate("DELETE FROM " + target.qualified + " AS t USING " + StagingTable.NAME
          + " AS s WHERE " + sOp + " = 1 AND " + p.keyJoin("t", "s"));
    }
    String sql = "WITH u AS (INSERT INTO " + target.qualified + " AS t (" + TargetTable.columnList(p.columnNames())
        + ") SELECT " + p.stagedValues("s") + " FROM " + StagingTable.NAME + " AS s WHERE " + sOp + " = 0 ON CONFLICT ("
        + TargetTable.columnList(p.keyNames) + ") " + p.onConflictAction() + " RETURNING (xmax = 0) AS ins)"
        + " SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM u";
    try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return new ApplyResult(rs.getLong(1), rs.getLong(2), deleted, 0);
    }
  }
}
