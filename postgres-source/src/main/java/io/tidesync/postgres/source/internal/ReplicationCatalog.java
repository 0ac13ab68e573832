package io.tidesync.postgres.source.internal;

import io.tidesync.ConfigurationException;
import io.tidesync.postgres.source.ReplicaIdentityPolicy;
import io.tidesync.spi.Column;
import io.tidesync.spi.TableSchema;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server-side checks and set-up of a source, on a plain connection: wal_level, tables and
 * their column types, replica identity, publication, slot state. Every problem is reported with
 * the statement that fixes it.
 */
final class ReplicationCatalog {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicationCatalog.class);

  private final SourceSettings settings;
  private final Connections connections;

  ReplicationCatalog(SourceSettings settings, Connections connections) {
    this.settings = settings;
    this.connections = connections;
  }

  /** State of a replication slot, or null from {@link #slot} when it does not exist. */
  record SlotState(String plugin, String database, long confirmedFlushLsn, boolean active) {}

  private String subject() {
    return settings.pipeline() + ": cannot open postgres source";
  }

  String database(Connection c) throws SQLException {
    return queryString(c, "SELECT current_database()");
  }

  void checkWalLevel(Connection c) throws SQLException {
    String level = queryString(c, "SHOW wal_level");
    if (!"logical".equals(level)) {
      throw new ConfigurationException(subject() + ": wal_level is '" + level + "', logical replication needs 'logical'."
          + " Run ALTER SYSTEM SET wal_level = logical and restart the server");
    }
  }

  /** Loads every table, and checks existence, column types and replica identity, listing every problem. */
  List<TableInfo> loadTables(Connection c) throws SQLException {
    List<String> problems = new ArrayList<>();
    List<TableInfo> tables = new ArrayList<>();
    List<QualifiedName> notFull = new ArrayList<>();
    for (QualifiedName name : settings.tables()) {
      TableInfo t = loadTable(c, name, problems);
      if (t == null) {
        continue;
      }
      tables.add(t);
      if (t.replicaIdentity() != 'f') {
        notFull.add(name);
      }
    }
    if (!notFull.isEmpty() && problems.isEmpty()) {
      if (settings.replicaIdentity() == ReplicaIdentityPolicy.SET_FULL) {
        try (Statement s = c.createStatement()) {
          for (QualifiedName n : notFull) {
            LOG.info("{}: setting REPLICA IDENTITY FULL on {}", settings.pipeline(), n);
            s.execute("ALTER TABLE " + n.sql() + " REPLICA IDENTITY FULL");
          }
        } catch (SQLException e) {
          throw new ConfigurationException(subject() + ": cannot set REPLICA IDENTITY FULL on " + notFull + ": "
              + e.getMessage() + ". Run it as the tables' owner: " + alterIdentity(notFull), e);
        }
      } else {
        problems.add("tables " + notFull + " do not have REPLICA IDENTITY FULL, which history capture needs (old rows"
            + " of updates and deletes). Run: " + alterIdentity(notFull)
            + " or set .replicaIdentity(ReplicaIdentityPolicy.SET_FULL)");
      }
    }
    if (!problems.isEmpty()) {
      throw ConfigurationException.of(subject(), problems);
    }
    return tables;
  }

  private static String alterIdentity(List<QualifiedName> names) {
    StringBuilder sb = new StringBuilder();
    for (QualifiedName n : names) {
      sb.append("ALTER TABLE ").append(n.sql()).append(" REPLICA IDENTITY FULL; ");
    }
    return sb.toString().trim();
  }

  private TableInfo loadTable(Connection c, QualifiedName name, List<String> problems) throws SQLException {
    long oid;
    char ident;
    try (PreparedStatement ps = c.prepareStatement("SELECT c.oid, c.relreplident, c.relkind FROM pg_class c"
        + " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = ?")) {
      ps.setString(1, name.schema());
      ps.setString(2, name.table());
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          problems.add("table " + name + " does not exist in database " + database(c)
              + ": create it or fix the name passed to forTables(..)");
          return null;
        }
        oid = rs.getLong(1);
        ident = rs.getString(2).charAt(0);
        if (!"r".equals(rs.getString(3))) {
          problems.add(name + " is not a plain table (relkind '" + rs.getString(3) + "'): only ordinary tables can be captured");
          return null;
        }
      }
    }
    List<Column> columns = new ArrayList<>();
    List<PgType> types = new ArrayList<>();
    boolean unsupported = false;
    try (PreparedStatement ps = c.prepareStatement("SELECT a.attname, a.atttypmod, a.attnotnull, t.typname,"
        + " t.typtype::text, et.typname, et.typtype::text, format_type(a.atttypid, a.atttypmod)"
        + " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
        + " LEFT JOIN pg_type et ON t.typcategory = 'A' AND et.oid = t.typelem"
        + " WHERE a.attrelid = ? AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''"
        + " ORDER BY a.attnum")) {
      ps.setLong(1, oid);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String col = rs.getString(1);
          PgType t = PgType.resolve(rs.getString(4), rs.getString(5), rs.getInt(2), rs.getString(6), rs.getString(7),
              rs.getString(8));
          if (t == null) {
            problems.add("column " + col + " of table " + name + " has type " + rs.getString(8)
                + ", which history capture does not support (supported: " + PgType.supportedList()
                + "). Change the column's type or leave the table out");
            unsupported = true;
            continue;
          }
          columns.add(new Column(col, t.logical(), !rs.getBoolean(3)));
          types.add(t);
        }
      }
    }
    List<String> key = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT a.attname FROM pg_index i JOIN pg_attribute a"
        + " ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indrelid = ? AND i.indisprimary"
        + " ORDER BY array_position(i.indkey::int2[], a.attnum)")) {
      ps.setLong(1, oid);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          key.add(rs.getString(1));
        }
      }
    }
    if (unsupported) {
      return null;
    }
    return new TableInfo(name, oid, TableSchema.of(columns, key), List.copyOf(types), ident);
  }

  /** Resolves a type a Relation message names (after a schema change), or null when unsupported. */
  PgType typeOf(Connection c, int typeOid, int typmod) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT t.typname, t.typtype::text, et.typname, et.typtype::text,"
        + " format_type(t.oid, ?) FROM pg_type t LEFT JOIN pg_type et ON t.typcategory = 'A' AND et.oid = t.typelem"
        + " WHERE t.oid = ?")) {
      ps.setInt(1, typmod);
      ps.setLong(2, Integer.toUnsignedLong(typeOid));
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return null;
        }
        return PgType.resolve(rs.getString(1), rs.getString(2), typmod, rs.getString(3), rs.getString(4), rs.getString(5));
      }
    }
  }

  /** Creates the publication when missing, or checks that the existing one publishes every table. */
  void ensurePublication(Connection c, List<TableInfo> tables) throws SQLException {
    String pub = settings.publicationName();
    StringBuilder list = new StringBuilder();
    for (TableInfo t : tables) {
      list.append(list.length() == 0 ? "" : ", ").append(t.name().sql());
    }
    boolean exists;
    try (PreparedStatement ps = c.prepareStatement("SELECT pubinsert AND pubupdate AND pubdelete FROM pg_publication WHERE pubname = ?")) {
      ps.setString(1, pub);
      try (ResultSet rs = ps.executeQuery()) {
        exists = rs.next();
        if (exists && !rs.getBoolean(1)) {
          throw new ConfigurationException(subject() + ": publication " + pub + " does not publish inserts, updates and"
              + " deletes. Run: ALTER PUBLICATION " + QualifiedName.quote(pub) + " SET (publish = 'insert, update, delete, truncate')");
        }
      }
    }
    if (!exists) {
      String sql = "CREATE PUBLICATION " + QualifiedName.quote(pub) + " FOR TABLE " + list;
      try (Statement s = c.createStatement()) {
        s.execute(sql);
        LOG.info("{}: created publication {} for {}", settings.pipeline(), pub, list);
      } catch (SQLException e) {
        throw new ConfigurationException(subject() + ": cannot create publication " + pub + ": " + e.getMessage()
            + " (SQLSTATE " + e.getSQLState() + "). Creating a publication needs CREATE on the database and ownership"
            + " of the tables: have the owner run " + sql + " (or GRANT CREATE ON DATABASE and make this user a member"
            + " of the owning role)", e);
      }
      return;
    }
    Set<String> published = new LinkedHashSet<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = ?")) {
      ps.setString(1, pub);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          published.add(rs.getString(1) + "." + rs.getString(2));
        }
      }
    }
    List<String> missing = new ArrayList<>();
    for (TableInfo t : tables) {
      if (!published.contains(t.name().schema() + "." + t.name().table())) {
        missing.add(t.name().sql());
      }
    }
    if (!missing.isEmpty()) {
      throw new ConfigurationException(subject() + ": publication " + pub + " does not contain " + missing
          + ". Run: ALTER PUBLICATION " + QualifiedName.quote(pub) + " ADD TABLE " + String.join(", ", missing)
          + " (or choose another publicationName)");
    }
  }

  SlotState slot(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT plugin, database, (confirmed_flush_lsn - '0/0'::pg_lsn)::int8,"
        + " active FROM pg_replication_slots WHERE slot_name = ?")) {
      ps.setString(1, settings.slotName());
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return null;
        }
        return new SlotState(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getBoolean(4));
      }
    }
  }

  void dropSlot(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
      ps.setString(1, settings.slotName());
      ps.execute();
    }
  }

  /** Current WAL write position, the target a run catches up to. */
  static long currentWalLsn(Connection c) throws SQLException {
    return Long.parseLong(queryString(c, "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8"));
  }

  private static String queryString(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }
}
