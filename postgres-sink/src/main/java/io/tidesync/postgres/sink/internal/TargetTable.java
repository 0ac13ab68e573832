package io.tidesync.postgres.sink.internal;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Catalog reads and DDL for one target table (or its snapshot load table). */
final class TargetTable {
  /** A column as the catalog describes it; {@code type} as {@code format_type()} prints it. */
  record ExistingColumn(String name, String type, boolean notNull, boolean hasDefault) {}

  /** A column to create: its name and its DDL type text. */
  record NewColumn(String name, String ddlType) {}

  final String schema;
  final String table;
  final String qualified;

  TargetTable(String schema, String table) {
    this.schema = schema;
    this.table = table;
    this.qualified = Identifiers.qualified(schema, table);
  }

  static boolean schemaExists(Connection c, String schema) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_namespace WHERE nspname = ?")) {
      ps.setString(1, schema);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next();
      }
    }
  }

  /** Serializes DDL on this table between concurrent appliers until the transaction ends. */
  void lock(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_xact_lock(hashtext(?))")) {
      ps.setString(1, "tidesync:" + qualified);
      ps.execute();
    }
  }

  /** The table's columns in order, or null when the table does not exist. */
  Map<String, ExistingColumn> columns(Connection c) throws SQLException {
    Long oid = null;
    try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?)::oid")) {
      ps.setString(1, qualified);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        long v = rs.getLong(1);
        if (!rs.wasNull()) {
          oid = v;
        }
      }
    }
    if (oid == null) {
      return null;
    }
    Map<String, ExistingColumn> out = new LinkedHashMap<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT attname, format_type(atttypid, atttypmod), attnotnull, atthasdef"
        + " FROM pg_attribute WHERE attrelid = ? AND attnum > 0 AND NOT attisdropped ORDER BY attnum")) {
      ps.setLong(1, oid);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), new ExistingColumn(rs.getString(1), rs.getString(2), rs.getBoolean(3), rs.getBoolean(4)));
        }
      }
    }
    return out;
  }

  /** Column sets of the table's unique, non-partial, plain-column indexes (the primary key among them). */
  List<Set<String>> uniqueKeys(Connection c) throws SQLException {
    List<Set<String>> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT array_agg(a.attname::text) FROM pg_index i"
        + " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        + " WHERE i.indrelid = to_regclass(?) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL"
        + " GROUP BY i.indexrelid")) {
      ps.setString(1, qualified);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Array a = rs.getArray(1);
          out.add(new HashSet<>(Arrays.asList((String[]) a.getArray())));
        }
      }
    }
    return out;
  }

  void createSchemaIfMissing(Connection c) throws SQLException {
    if (!schemaExists(c, schema)) {
      try (Statement s = c.createStatement()) {
        s.execute("CREATE SCHEMA IF NOT EXISTS " + Identifiers.quote(schema));
      }
    }
  }

  /** CREATE TABLE with the columns and, when {@code key} is not empty, the primary key. */
  void create(Connection c, List<NewColumn> cols, List<String> key, String pkeyName) throws SQLException {
    StringBuilder sb = new StringBuilder("CREATE TABLE ").append(qualified).append(" (");
    Set<String> keySet = new HashSet<>(key);
    for (int i = 0; i < cols.size(); i++) {
      NewColumn col = cols.get(i);
      sb.append(i == 0 ? "" : ", ").append(Identifiers.quote(col.name())).append(' ').append(col.ddlType());
      if (keySet.contains(col.name())) {
        sb.append(" NOT NULL");
      }
    }
    if (!key.isEmpty()) {
      sb.append(", CONSTRAINT ").append(Identifiers.quote(pkeyName)).append(" PRIMARY KEY (").append(columnList(key)).append(')');
    }
    sb.append(')');
    try (Statement s = c.createStatement()) {
      s.execute(sb.toString());
    }
  }

  void addColumn(Connection c, NewColumn col) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute("ALTER TABLE " + qualified + " ADD COLUMN " + Identifiers.quote(col.name()) + " " + col.ddlType());
    }
  }

  static String columnList(List<String> names) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < names.size(); i++) {
      sb.append(i == 0 ? "" : ", ").append(Identifiers.quote(names.get(i)));
    }
    return sb.toString();
  }
}
