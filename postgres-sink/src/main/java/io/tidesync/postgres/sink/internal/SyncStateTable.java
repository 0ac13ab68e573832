package io.tidesync.postgres.sink.internal;

import io.tidesync.spi.Position;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;

/**
 * The {@code <stateSchema>.sync_state} table: one row per (pipeline, target) holding the end
 * position of the last batch committed, written in the same transaction as the batch's rows.
 */
final class SyncStateTable {
  private final String schema;
  private final String qualified;

  SyncStateTable(String schema) {
    this.schema = schema;
    this.qualified = Identifiers.qualified(schema, "sync_state");
  }

  /**
   * Creates the schema and table when missing and commits. Concurrent pipelines serialize on an
   * advisory lock, so two first runs do not race on the catalog.
   */
  void ensureExists(Connection c) throws SQLException {
    if (exists(c)) {
      c.commit();
      return;
    }
    try (PreparedStatement lock = c.prepareStatement("SELECT pg_advisory_xact_lock(hashtext(?))")) {
      lock.setString(1, "tidesync:" + qualified);
      lock.execute();
    }
    if (!exists(c)) {
      try (Statement s = c.createStatement()) {
        if (!TargetTable.schemaExists(c, schema)) {
          s.execute("CREATE SCHEMA IF NOT EXISTS " + Identifiers.quote(schema));
        }
        s.execute("CREATE TABLE IF NOT EXISTS " + qualified + " (pipeline text NOT NULL, target text NOT NULL,"
            + " source text NOT NULL, position text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),"
            + " PRIMARY KEY (pipeline, target))");
      }
    }
    c.commit();
  }

  private boolean exists(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
      ps.setString(1, qualified);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    }
  }

  Optional<Position> read(Connection c, String pipeline, String target) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT source, position FROM " + qualified
        + " WHERE pipeline = ? AND target = ?")) {
      ps.setString(1, pipeline);
      ps.setString(2, target);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(new Position(rs.getString(1), rs.getString(2))) : Optional.empty();
      }
    }
  }

  /** Writes the position inside the caller's transaction. */
  void write(Connection c, String pipeline, String target, Position p) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + qualified
        + " (pipeline, target, source, position, updated_at) VALUES (?, ?, ?, ?, now())"
        + " ON CONFLICT (pipeline, target) DO UPDATE SET source = EXCLUDED.source, position = EXCLUDED.position,"
        + " updated_at = EXCLUDED.updated_at")) {
      ps.setString(1, pipeline);
      ps.setString(2, target);
      ps.setString(3, p.source());
      ps.setString(4, p.offset());
      ps.executeUpdate();
    }
  }
}
