package io.tidesync.postgres.sink.internal;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The temporary table rows are binary-COPYed into before they are merged into the target (or cast
 * into the load table): the batch's columns typed as {@link PgTypes#wire}, optionally followed by
 * the plan's op column, dropped at commit.
 */
final class StagingTable {
  /** The quoted name of the staging table. */
  static final String NAME = Identifiers.quote("_tidesync_stage");

  private StagingTable() {}

  static void create(Connection conn, TargetPlan p, boolean withOpColumn) throws SQLException {
    String op = withOpColumn ? ", " + Identifiers.quote(p.opColumn) + " smallint" : "";
    try (Statement s = conn.createStatement()) {
      s.execute("CREATE TEMP TABLE " + NAME + " (" + p.wireColumns() + op + ") ON COMMIT DROP");
    }
  }
}
