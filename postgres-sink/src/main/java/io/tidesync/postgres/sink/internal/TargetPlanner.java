package io.tidesync.postgres.sink.internal;

import io.tidesync.ConfigurationException;
import io.tidesync.SchemaMismatchException;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.TableSchema;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maps batch schemas onto the target table ({@link TargetPlan}, cached per schema) and keeps the
 * target's shape in line: creates it when missing, adds new source columns, and stops with a
 * {@link SchemaMismatchException} at other differences. Used by the applier's thread only.
 */
final class TargetPlanner {
  private static final Logger LOG = LoggerFactory.getLogger(TargetPlanner.class);

  private final SinkSettings settings;
  private final String pipeline;
  private final TargetTable target;
  private final String display;
  /** Override column -> type as format_type() prints it. */
  private final Map<String, String> overrideTypes;

  private TargetPlan plan;
  /** The batch schema the target was last checked (and evolved) against, in a committed transaction. */
  private TableSchema verified;

  /**
   * Asks the server how it spells each column type override (rolling back afterwards).
   *
   * @throws ConfigurationException for an override PostgreSQL does not accept as a type
   */
  TargetPlanner(Connection conn, SinkSettings settings, String pipeline, TargetTable target, String display)
      throws SQLException {
    this.settings = settings;
    this.pipeline = pipeline;
    this.target = target;
    this.display = display;
    this.overrideTypes = normalizeOverrides(conn, settings.columnTypes());
  }

  private Map<String, String> normalizeOverrides(Connection conn, Map<String, String> overrides) throws SQLException {
    Map<String, String> out = new HashMap<>();
    if (overrides.isEmpty()) {
      return out;
    }
    for (String name : new ArrayList<>(overrides.keySet())) {
      String type = overrides.get(name);
      try (Statement s = conn.createStatement()) {
        s.execute("SAVEPOINT probe");
        s.execute("CREATE TEMP TABLE _tidesync_probe (c " + type + ") ON COMMIT DROP");
        try (ResultSet rs = s.executeQuery("SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
            + " WHERE attrelid = 'pg_temp._tidesync_probe'::regclass AND attname = 'c'")) {
          rs.next();
          out.put(name, rs.getString(1));
        }
        s.execute("ROLLBACK TO SAVEPOINT probe");
      } catch (SQLException e) {
        conn.rollback();
        throw new ConfigurationException(pipeline + ": cannot use columnType(\"" + name + "\", \"" + type + "\"): PostgreSQL"
            + " does not accept it as a column type (" + SqlErrors.firstLine(e.getMessage()) + "). Give a type such as"
            + " numeric(12,2) or varchar(100)");
      }
    }
    conn.rollback();
    return out;
  }

  /**
   * The plan of the batch's schema.
   *
   * @throws ConfigurationException when the key, timeseries key or overrides do not fit the schema
   */
  TargetPlan plan(ChangeBatch batch) {
    TableSchema schema = batch.schema();
    if (plan != null && plan.schema.equals(schema)) {
      return plan;
    }
    List<String> problems = new ArrayList<>();
    List<String> keyNames = settings.primaryKey().isEmpty() ? schema.primaryKey() : settings.primaryKey();
    if (keyNames.isEmpty()) {
      problems.add("no primary key: the source " + batch.table() + " has none; set primaryKey(..) on the sink");
    }
    for (String k : keyNames) {
      if (schema.indexOf(k) < 0) {
        problems.add("primary key column \"" + k + "\" is not a column of the source " + batch.table() + " " + schema.names());
      }
    }
    String ts = settings.timeseriesKey();
    if (ts != null) {
      Optional<Column> c = schema.column(ts);
      if (c.isEmpty()) {
        problems.add("timeseriesKey column \"" + ts + "\" is not a column of the source " + schema.names());
      } else if (c.get().type().kind() == LogicalType.Kind.BINARY || c.get().type().kind() == LogicalType.Kind.BOOLEAN) {
        problems.add("timeseriesKey column \"" + ts + "\" is " + c.get().type() + ", which has no useful order; choose a"
            + " number, date, timestamp or text column");
      }
    }
    for (String o : settings.columnTypes().keySet()) {
      if (schema.indexOf(o) < 0) {
        problems.add("columnType override for \"" + o + "\" names no column of the source " + schema.names());
      }
    }
    if (!problems.isEmpty()) {
      throw ConfigurationException.of(pipeline + ": postgres table " + display, problems);
    }
    String[] ddlTypes = new String[schema.size()];
    String[] expectedTypes = new String[schema.size()];
    boolean[] cast = new boolean[schema.size()];
    for (int i = 0; i < schema.size(); i++) {
      Column c = schema.column(i);
      String natural = PgTypes.of(c.type());
      String override = overrideTypes.get(c.name());
      ddlTypes[i] = override == null ? natural : settings.columnTypes().get(c.name());
      expectedTypes[i] = override == null ? natural : override;
      cast[i] = override != null && !override.equals(natural);
    }
    plan = new TargetPlan(schema, keyNames, ts == null ? -1 : schema.indexOf(ts), ddlTypes, expectedTypes, cast);
    return plan;
  }

  /**
   * Inside the caller's transaction: creates the target when missing, adds new source columns, and
   * stops at other differences. Does nothing for the schema last {@link #verified}.
   *
   * @throws SchemaMismatchException when the target cannot take the batch's rows
   */
  void prepareTarget(Connection conn, TargetPlan p, String subject) throws SQLException {
    TableSchema schema = p.schema;
    if (schema.equals(verified)) {
      return;
    }
    target.lock(conn);
    Map<String, TargetTable.ExistingColumn> existing = target.columns(conn);
    if (existing == null) {
      target.createSchemaIfMissing(conn);
      target.create(conn, p.newColumns(), p.keyNames, Identifiers.derived(target.table, "_pkey"));
      LOG.info("{}: created table {} {}", pipeline, display, schema);
      return;
    }
    List<String> problems = new ArrayList<>();
    List<TargetTable.NewColumn> additions = new ArrayList<>();
    for (int i = 0; i < schema.size(); i++) {
      Column c = schema.column(i);
      TargetTable.ExistingColumn e = existing.get(c.name());
      if (e == null) {
        if (p.isKey[i]) {
          problems.add("primary key column \"" + c.name() + "\" is missing in the target");
        } else {
          additions.add(new TargetTable.NewColumn(c.name(), p.ddlTypes[i]));
        }
      } else if (!e.type().equals(p.expectedTypes[i])) {
        problems.add("column \"" + c.name() + "\" is " + e.type() + " in the target but the source's " + c.type()
            + (overrideTypes.containsKey(c.name()) ? " is configured as " : " maps to ") + p.expectedTypes[i]);
      }
    }
    Set<String> sourceNames = new HashSet<>(schema.names());
    for (TargetTable.ExistingColumn e : existing.values()) {
      if (!sourceNames.contains(e.name()) && e.notNull() && !e.hasDefault()) {
        problems.add("target column \"" + e.name() + "\" is NOT NULL without a default but the source has no such column");
      }
    }
    if (problems.isEmpty() && !target.uniqueKeys(conn).contains(new HashSet<>(p.keyNames))) {
      problems.add("the target has no primary key or unique index on exactly " + p.keyNames);
    }
    if (!problems.isEmpty()) {
      throw new SchemaMismatchException(subject + ": the target does not match the source: " + String.join("; ", problems)
          + ". Re-snapshot the table (SyncMode.SNAPSHOT) to rebuild it from the source, or change the target by hand"
          + " (or set columnType(..) on the sink) to match");
    }
    for (TargetTable.NewColumn a : additions) {
      target.addColumn(conn, a);
      LOG.info("{}: added column \"{}\" {} to {}", pipeline, a.name(), a.ddlType(), display);
    }
  }

  /** Records that the target matches {@code schema} as of a committed transaction. */
  void verified(TableSchema schema) {
    this.verified = schema;
  }
}
