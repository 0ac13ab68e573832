package io.tidesync.postgres.sink.internal;

import io.tidesync.ApplyFailedException;
import io.tidesync.ConfigurationException;
import io.tidesync.InvalidSourceDataException;
import io.tidesync.SchemaMismatchException;
import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.Position;
import io.tidesync.spi.SinkContext;
import io.tidesync.spi.TableSchema;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link ChangeApplier} of {@code PostgresSink}: one JDBC connection (autocommit off), used by
 * the pipeline's worker thread only.
 *
 * <p>CHANGES batches are reduced per key ({@link ChangeReducer}), then applied with the end
 * position in one transaction, by binary COPY into a temporary staging table and one MERGE, or by
 * JDBC batches of upserts and deletes. SNAPSHOT batches are copied into a load table, committed
 * per batch; the last one adds the primary key and swaps the load table in for the target, with
 * the position, in one transaction.
 */
public final class PostgresApplier implements ChangeApplier {
  private static final Logger LOG = LoggerFactory.getLogger(PostgresApplier.class);
  private static final String LOAD_SUFFIX = "__ts_load";
  private static final String STAGE = "_tidesync_stage";

  /** TEST SUPPORT ONLY: forces the pre-MERGE path (INSERT .. ON CONFLICT + DELETE .. USING). */
  public static volatile boolean forceOnConflictForTests;

  private final SinkSettings settings;
  private final String pipeline;
  private final Connection conn;
  private final int serverMajor;
  private final TargetTable target;
  private final String display;
  private final String stateKey;
  private final SyncStateTable state;
  /** Override column -> type as format_type() prints it. */
  private final Map<String, String> overrideTypes;

  private Plan plan;
  /** The batch schema the target was last checked (and evolved) against, in a committed transaction. */
  private TableSchema verified;
  private boolean snapshotLoading;
  private boolean snapshotBroken;
  private boolean closed;

  private PostgresApplier(SinkSettings settings, SinkContext context, Connection conn) throws SQLException {
    this.settings = settings;
    this.pipeline = context.pipelineName();
    this.conn = conn;
    conn.setAutoCommit(false);
    this.serverMajor = conn.getMetaData().getDatabaseMajorVersion();
    String schema = settings.schema() != null ? settings.schema() : currentSchema(conn);
    this.target = new TargetTable(schema, settings.table());
    this.display = Identifiers.display(schema, settings.table());
    this.stateKey = display;
    this.state = new SyncStateTable(settings.stateSchema());
    this.overrideTypes = normalizeOverrides(settings.columnTypes());
    state.ensureExists(conn);
  }

  /**
   * Connects and prepares the sync_state table.
   *
   * @throws ApplyFailedException if the database cannot be reached or prepared (retryable for
   *     connection errors)
   * @throws ConfigurationException for a column type override PostgreSQL does not know
   */
  public static PostgresApplier open(SinkSettings settings, SinkContext context) {
    Connection c = null;
    try {
      c = settings.dataSource().getConnection();
      return new PostgresApplier(settings, context, c);
    } catch (SQLException e) {
      closeQuietly(c);
      throw SqlErrors.applyFailed(context.pipelineName() + ": cannot open postgres table " + settings.table(), e);
    } catch (RuntimeException e) {
      closeQuietly(c);
      throw e;
    }
  }

  private static String currentSchema(Connection c) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT current_schema()")) {
      rs.next();
      String v = rs.getString(1);
      return v == null ? "public" : v;
    }
  }

  /** Asks the server how it spells each override type, so that it compares with the catalog. */
  private Map<String, String> normalizeOverrides(Map<String, String> overrides) throws SQLException {
    Map<String, String> out = new HashMap<>();
    if (overrides.isEmpty()) {
      return out;
    }
    List<String> names = new ArrayList<>(overrides.keySet());
    for (String name : names) {
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

  @Override
  public Optional<Position> committedPosition() {
    checkOpen();
    try {
      Optional<Position> p = state.read(conn, pipeline, stateKey);
      conn.commit();
      return p;
    } catch (SQLException e) {
      rollbackQuietly();
      throw SqlErrors.applyFailed(pipeline + ": cannot read the committed position of " + display, e);
    }
  }

  @Override
  public ApplyResult apply(ChangeBatch batch) {
    checkOpen();
    boolean snapshot = batch.type() == BatchType.SNAPSHOT;
    String subject = pipeline + (snapshot ? ": cannot load a snapshot into " : ": cannot apply changes to ") + display;
    try {
      return snapshot ? applySnapshot(batch, subject) : applyChanges(batch, subject);
    } catch (SQLException e) {
      rollbackQuietly();
      snapshotBroken |= snapshot;
      throw SqlErrors.applyFailed(subject, e);
    } catch (RuntimeException e) {
      rollbackQuietly();
      snapshotBroken |= snapshot && !(e instanceof FaultPoint.InjectedFault f && f.point() == FaultPoint.AFTER_COMMIT);
      throw e;
    }
  }

  // ---------------------------------------------------------------- changes

  private ApplyResult applyChanges(ChangeBatch batch, String subject) throws SQLException {
    if (snapshotLoading) {
      throw new ApplyFailedException(subject + ": a CHANGES batch arrived before the snapshot being loaded was complete."
          + " Restart the pipeline; the snapshot starts over", null, null, false);
    }
    if (batch.isPartial()) {
      throw new ApplyFailedException(subject + ": the batch holds only part of a source transaction (" + batch
          + "), and this sink applies whole transactions per batch. Raise the pipeline's maxBatchRows/maxBatchBytes above the"
          + " largest source transaction", null, null, false);
    }
    Plan p = plan(batch);
    ChangeReducer.Reduced reduced = new ChangeReducer(p.keyIdx, p.tsIdx, subject).reduce(batch);
    checkNul(batch, p, reduced.rows(), reduced.deletes(), reduced.count(), subject);
    prepareTarget(batch.schema(), p, subject);
    boolean copy = settings.copyMerge() != null ? settings.copyMerge() : reduced.count() >= settings.copyThreshold();
    ApplyResult r;
    if (reduced.count() == 0) {
      r = ApplyResult.NONE;
      FaultPoint.AFTER_STAGE.pass();
    } else if (copy) {
      r = copyMerge(batch, p, reduced);
    } else {
      r = batchedUpsert(batch, p, reduced);
    }
    state.write(conn, pipeline, stateKey, batch.endPosition());
    FaultPoint.AFTER_APPLY_BEFORE_COMMIT.pass();
    commit(subject);
    verified = batch.schema();
    LOG.debug("{}: applied {} to {} by {}: {}", pipeline, batch, display, copy ? "COPY_MERGE" : "BATCHED_UPSERT", r);
    FaultPoint.AFTER_COMMIT.pass();
    return new ApplyResult(r.inserted(), r.updated(), r.deleted(), reduced.skipped());
  }

  private ApplyResult copyMerge(ChangeBatch batch, Plan p, ChangeReducer.Reduced reduced) throws SQLException {
    String op = p.opColumn;
    try (Statement s = conn.createStatement()) {
      s.execute("CREATE TEMP TABLE " + Identifiers.quote(STAGE) + " (" + wireColumns(batch.schema()) + ", "
          + Identifiers.quote(op) + " smallint) ON COMMIT DROP");
    }
    copyRows(batch, p, Identifiers.quote(STAGE), reduced.rows(), reduced.count(), reduced.deletes());
    FaultPoint.AFTER_STAGE.pass();
    String on = keyJoin(p, "t", "s");
    String sOp = "s." + Identifiers.quote(op);
    List<String> cols = batch.schema().names();
    StringBuilder values = new StringBuilder();
    for (int i = 0; i < cols.size(); i++) {
      values.append(i == 0 ? "" : ", ").append(valueExpr(p, i, "s." + Identifiers.quote(cols.get(i))));
    }
    long inserted = 0;
    long updated = 0;
    long deleted = 0;
    if (serverMajor >= 15 && !forceOnConflictForTests) {
      StringBuilder sql = new StringBuilder("MERGE INTO ").append(target.qualified).append(" AS t USING ")
          .append(Identifiers.quote(STAGE)).append(" AS s ON ").append(on)
          .append(" WHEN MATCHED AND ").append(sOp).append(" = 1 THEN DELETE");
      if (p.nonKeyIdx.length > 0) {
        sql.append(" WHEN MATCHED AND ").append(sOp).append(" = 0 THEN UPDATE SET ").append(updateSet(batch.schema(), p, "s"));
      }
      sql.append(" WHEN NOT MATCHED AND ").append(sOp).append(" = 0 THEN INSERT (")
          .append(TargetTable.columnList(cols)).append(") VALUES (").append(values).append(')');
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
      } else {
        long upserts = reduced.count() - reduced.deleteCount();
        long matched;
        try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FILTER (WHERE "
            + sOp + " = 0), count(*) FILTER (WHERE " + sOp + " = 1) FROM " + Identifiers.quote(STAGE) + " AS s JOIN "
            + target.qualified + " AS t ON " + on)) {
          rs.next();
          matched = rs.getLong(1);
          deleted = rs.getLong(2);
        }
        try (Statement s = conn.createStatement()) {
          s.executeUpdate(sql.toString());
        }
        updated = matched;
        inserted = upserts - matched;
      }
    } else {
      try (Statement s = conn.createStatement()) {
        deleted = s.executeUpdate("DELETE FROM " + target.qualified + " AS t USING " + Identifiers.quote(STAGE)
            + " AS s WHERE " + sOp + " = 1 AND " + on);
      }
      String conflict = p.nonKeyIdx.length == 0 ? "DO NOTHING" : "DO UPDATE SET " + updateSet(batch.schema(), p, "EXCLUDED");
      String sql = "WITH u AS (INSERT INTO " + target.qualified + " AS t (" + TargetTable.columnList(cols) + ") SELECT "
          + values + " FROM " + Identifiers.quote(STAGE) + " AS s WHERE " + sOp + " = 0 ON CONFLICT ("
          + TargetTable.columnList(p.keyNames) + ") " + conflict + " RETURNING (xmax = 0) AS ins)"
          + " SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM u";
      try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery(sql)) {
        rs.next();
        inserted = rs.getLong(1);
        updated = rs.getLong(2);
      }
    }
    return new ApplyResult(inserted, updated, deleted, 0);
  }

  private ApplyResult batchedUpsert(ChangeBatch batch, Plan p, ChangeReducer.Reduced reduced) throws SQLException {
    TableSchema schema = batch.schema();
    List<String> cols = schema.names();
    StringBuilder values = new StringBuilder();
    for (int i = 0; i < cols.size(); i++) {
      values.append(i == 0 ? "" : ", ").append(valueExpr(p, i, "CAST(? AS " + PgTypes.wire(schema.column(i).type()) + ")"));
    }
    String conflict = p.nonKeyIdx.length == 0 ? "DO NOTHING" : "DO UPDATE SET " + updateSet(schema, p, "EXCLUDED");
    String upsertSql = "INSERT INTO " + target.qualified + " (" + TargetTable.columnList(cols) + ") VALUES (" + values
        + ") ON CONFLICT (" + TargetTable.columnList(p.keyNames) + ") " + conflict;
    StringBuilder where = new StringBuilder();
    for (int k = 0; k < p.keyIdx.length; k++) {
      int c = p.keyIdx[k];
      where.append(k == 0 ? "" : " AND ").append(Identifiers.quote(cols.get(c))).append(" = ")
          .append(valueExpr(p, c, "CAST(? AS " + PgTypes.wire(schema.column(c).type()) + ")"));
    }
    String deleteSql = "DELETE FROM " + target.qualified + " WHERE " + where;
    long deleted = 0;
    long upserts = 0;
    long inserted = 0;
    final int chunk = 1000;
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
        if (++pending == chunk) {
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
        if (++pending == chunk) {
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
        ps.setString(index, settings.stripNul() ? s.replace("\0", "") : s);
      }
      case BINARY -> ps.setBytes(index, (byte[]) v);
      case DATE -> ps.setObject(index, v);
      case TIMESTAMP_TZ -> ps.setObject(index, ((java.time.Instant) v).atOffset(ZoneOffset.UTC));
      case TIMESTAMP_NTZ -> ps.setObject(index, (LocalDateTime) v);
      default -> throw new IllegalStateException("unhandled type " + kind);
    }
  }

  // ---------------------------------------------------------------- snapshot

  private ApplyResult applySnapshot(ChangeBatch batch, String subject) throws SQLException {
    if (snapshotBroken) {
      throw new ApplyFailedException(subject + ": an earlier batch of this snapshot failed, so the load table is"
          + " incomplete. Restart the pipeline; the snapshot starts over", null, null, false);
    }
    Plan p = plan(batch);
    TargetTable load = new TargetTable(target.schema, Identifiers.derived(target.table, LOAD_SUFFIX));
    String loadPkey = Identifiers.derived(load.table, "_pkey");
    if (!snapshotLoading) {
      target.lock(conn);
      load.createSchemaIfMissing(conn);
      try (Statement s = conn.createStatement()) {
        s.execute("DROP TABLE IF EXISTS " + load.qualified);
      }
      load.create(conn, newColumns(batch.schema(), p), List.of(), null);
      LOG.info("{}: loading a snapshot of {} into {}", pipeline, batch.table(), load.qualified);
    } else if (!batch.schema().equals(verifiedSnapshotSchema)) {
      throw new SchemaMismatchException(subject + ": the source schema changed during the snapshot, from "
          + verifiedSnapshotSchema + " to " + batch.schema() + ". Run the snapshot again");
    }
    int n = batch.rowCount();
    int[] rows = new int[n];
    int count = 0;
    long skipped = 0;
    for (int r = 0; r < n; r++) {
      if (ChangeReducer.keyHasNull(batch, p.keyIdx, r)) {
        skipped++;
      } else {
        rows[count++] = r;
      }
    }
    checkNul(batch, p, rows, null, count, subject);
    if (count > 0) {
      if (p.anyCast) {
        try (Statement s = conn.createStatement()) {
          s.execute("CREATE TEMP TABLE " + Identifiers.quote(STAGE) + " (" + wireColumns(batch.schema()) + ") ON COMMIT DROP");
        }
        copyRows(batch, p, Identifiers.quote(STAGE), rows, count, null);
        List<String> cols = batch.schema().names();
        StringBuilder values = new StringBuilder();
        for (int i = 0; i < cols.size(); i++) {
          values.append(i == 0 ? "" : ", ").append(valueExpr(p, i, "s." + Identifiers.quote(cols.get(i))));
        }
        try (Statement s = conn.createStatement()) {
          s.execute("INSERT INTO " + load.qualified + " (" + TargetTable.columnList(cols) + ") SELECT " + values + " FROM "
              + Identifiers.quote(STAGE) + " AS s");
        }
      } else {
        copyRows(batch, p, load.qualified, rows, count, null);
      }
    }
    FaultPoint.AFTER_STAGE.pass();
    if (batch.lastOfSnapshot()) {
      try (Statement s = conn.createStatement()) {
        s.execute("SAVEPOINT pkey");
        try {
          s.execute("ALTER TABLE " + load.qualified + " ADD CONSTRAINT " + Identifiers.quote(loadPkey) + " PRIMARY KEY ("
              + TargetTable.columnList(p.keyNames) + ")");
        } catch (SQLException e) {
          if (!"23505".equals(e.getSQLState())) {
            throw e;
          }
          s.execute("ROLLBACK TO SAVEPOINT pkey");
          throw duplicateKey(load, p, subject);
        }
        target.lock(conn);
        s.execute("DROP TABLE IF EXISTS " + target.qualified);
        s.execute("ALTER TABLE " + load.qualified + " RENAME TO " + Identifiers.quote(target.table));
        s.execute("ALTER TABLE " + target.qualified + " RENAME CONSTRAINT " + Identifiers.quote(loadPkey) + " TO "
            + Identifiers.quote(Identifiers.derived(target.table, "_pkey")));
      }
      state.write(conn, pipeline, stateKey, batch.endPosition());
    }
    FaultPoint.AFTER_APPLY_BEFORE_COMMIT.pass();
    commit(subject);
    if (batch.lastOfSnapshot()) {
      snapshotLoading = false;
      verified = batch.schema();
      LOG.info("{}: snapshot of {} swapped in as {} at {}", pipeline, batch.table(), display, batch.endPosition());
    } else {
      snapshotLoading = true;
      verifiedSnapshotSchema = batch.schema();
    }
    FaultPoint.AFTER_COMMIT.pass();
    return new ApplyResult(count, 0, 0, skipped);
  }

  private TableSchema verifiedSnapshotSchema;

  /** Finds a duplicated key in the load table, drops the table, and describes the problem. */
  private InvalidSourceDataException duplicateKey(TargetTable load, Plan p, String subject) throws SQLException {
    String keys = TargetTable.columnList(p.keyNames);
    StringBuilder dup = new StringBuilder();
    try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("SELECT " + keys + ", count(*) FROM "
        + load.qualified + " GROUP BY " + keys + " HAVING count(*) > 1 LIMIT 1")) {
      if (rs.next()) {
        dup.append('(');
        for (int i = 0; i < p.keyNames.size(); i++) {
          dup.append(i == 0 ? "" : ", ").append(p.keyNames.get(i)).append('=').append(rs.getString(i + 1));
        }
        dup.append(") appears ").append(rs.getLong(p.keyNames.size() + 1)).append(" times");
      }
    }
    try (Statement s = conn.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + load.qualified);
    }
    conn.commit();
    snapshotLoading = false;
    return new InvalidSourceDataException(subject + ": the snapshot has duplicate primary key values " + p.keyNames
        + ": key " + dup + ". The target was left unchanged. Fix the source so that the key is unique, or configure"
        + " primaryKey(..) with the columns that are");
  }

  // ---------------------------------------------------------------- target schema

  /** Creates the target when missing, adds new source columns, and stops at other differences. */
  private void prepareTarget(TableSchema schema, Plan p, String subject) throws SQLException {
    if (schema.equals(verified)) {
      return;
    }
    target.lock(conn);
    Map<String, TargetTable.ExistingColumn> existing = target.columns(conn);
    if (existing == null) {
      target.createSchemaIfMissing(conn);
      target.create(conn, newColumns(schema, p), p.keyNames, Identifiers.derived(target.table, "_pkey"));
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

  private List<TargetTable.NewColumn> newColumns(TableSchema schema, Plan p) {
    List<TargetTable.NewColumn> out = new ArrayList<>();
    for (int i = 0; i < schema.size(); i++) {
      out.add(new TargetTable.NewColumn(schema.column(i).name(), p.ddlTypes[i]));
    }
    return out;
  }

  // ---------------------------------------------------------------- shared pieces

  /** What the applier derives from a batch schema and the settings; cached per schema. */
  private static final class Plan {
    TableSchema schema;
    int[] keyIdx;
    int[] nonKeyIdx;
    boolean[] isKey;
    List<String> keyNames;
    int tsIdx;
    String[] ddlTypes;
    String[] expectedTypes;
    boolean[] cast;
    boolean anyCast;
    String opColumn;
  }

  private Plan plan(ChangeBatch batch) {
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
    Plan p = new Plan();
    p.schema = schema;
    p.keyNames = List.copyOf(keyNames);
    p.keyIdx = keyNames.stream().mapToInt(schema::indexOf).toArray();
    p.isKey = new boolean[schema.size()];
    for (int k : p.keyIdx) {
      p.isKey[k] = true;
    }
    List<Integer> nonKey = new ArrayList<>();
    for (int i = 0; i < schema.size(); i++) {
      if (!p.isKey[i]) {
        nonKey.add(i);
      }
    }
    p.nonKeyIdx = nonKey.stream().mapToInt(Integer::intValue).toArray();
    p.tsIdx = ts == null ? -1 : schema.indexOf(ts);
    p.ddlTypes = new String[schema.size()];
    p.expectedTypes = new String[schema.size()];
    p.cast = new boolean[schema.size()];
    for (int i = 0; i < schema.size(); i++) {
      Column c = schema.column(i);
      String natural = PgTypes.of(c.type());
      String override = overrideTypes.get(c.name());
      p.ddlTypes[i] = override == null ? natural : settings.columnTypes().get(c.name());
      p.expectedTypes[i] = override == null ? natural : override;
      p.cast[i] = override != null && !override.equals(natural);
      p.anyCast |= p.cast[i];
    }
    String op = "_tidesync_op";
    while (schema.indexOf(op) >= 0) {
      op = "_" + op;
    }
    p.opColumn = op;
    plan = p;
    return p;
  }

  private static String wireColumns(TableSchema schema) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < schema.size(); i++) {
      sb.append(i == 0 ? "" : ", ").append(Identifiers.quote(schema.column(i).name())).append(' ')
          .append(PgTypes.wire(schema.column(i).type()));
    }
    return sb.toString();
  }

  private String valueExpr(Plan p, int column, String expr) {
    return p.cast[column] ? "CAST(" + expr + " AS " + p.ddlTypes[column] + ")" : expr;
  }

  private String keyJoin(Plan p, String left, String right) {
    StringBuilder sb = new StringBuilder();
    for (int k = 0; k < p.keyIdx.length; k++) {
      String q = Identifiers.quote(p.keyNames.get(k));
      sb.append(k == 0 ? "" : " AND ").append(left).append('.').append(q).append(" = ")
          .append(valueExpr(p, p.keyIdx[k], right + "." + q));
    }
    return sb.toString();
  }

  private static String updateSet(TableSchema schema, Plan p, String from) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < p.nonKeyIdx.length; i++) {
      String q = Identifiers.quote(schema.column(p.nonKeyIdx[i]).name());
      String v = from + "." + q;
      if (!"EXCLUDED".equals(from) && p.cast[p.nonKeyIdx[i]]) {
        v = "CAST(" + v + " AS " + p.ddlTypes[p.nonKeyIdx[i]] + ")";
      }
      sb.append(i == 0 ? "" : ", ").append(q).append(" = ").append(v);
    }
    return sb.toString();
  }

  private void copyRows(ChangeBatch batch, Plan p, String into, int[] rows, int count, boolean[] deletes) throws SQLException {
    List<String> cols = new ArrayList<>(batch.schema().names());
    if (deletes != null) {
      cols.add(p.opColumn);
    }
    CopyIn copy = conn.unwrap(PGConnection.class).getCopyAPI()
        .copyIn("COPY " + into + " (" + TargetTable.columnList(cols) + ") FROM STDIN (FORMAT binary)");
    try {
      new PgBinaryCopyWriter(batch, p.isKey, settings.stripNul()).write(copy, rows, count, deletes);
    } finally {
      if (copy.isActive()) {
        try {
          copy.cancelCopy();
        } catch (SQLException ignored) {
          // the transaction is rolled back by the caller
        }
      }
    }
  }

  /** With {@link io.tidesync.postgres.sink.NulBytePolicy#FAIL}, rejects text values holding NUL before anything is written. */
  private void checkNul(ChangeBatch batch, Plan p, int[] rows, boolean[] deletes, int count, String subject) {
    if (settings.stripNul()) {
      return;
    }
    byte[] scratch = new byte[256];
    for (int c = 0; c < batch.schema().size(); c++) {
      LogicalType.Kind kind = batch.schema().column(c).type().kind();
      if (kind != LogicalType.Kind.STRING && kind != LogicalType.Kind.JSON) {
        continue;
      }
      BaseVariableWidthVector v = (BaseVariableWidthVector) batch.vector(c);
      for (int i = 0; i < count; i++) {
        int row = rows[i];
        if ((deletes != null && deletes[i] && !p.isKey[c]) || v.isNull(row)) {
          continue;
        }
        int len = v.getValueLength(row);
        if (len > scratch.length) {
          scratch = new byte[Math.max(len, scratch.length * 2)];
        }
        v.getDataBuffer().getBytes(v.getStartOffset(row), scratch, 0, len);
        for (int b = 0; b < len; b++) {
          if (scratch[b] == 0) {
            throw new InvalidSourceDataException(subject + ": column \"" + batch.schema().column(c).name() + "\" of key "
                + ChangeReducer.describeKey(batch, p.keyIdx, row) + " holds a NUL character (\\u0000), which PostgreSQL"
                + " text cannot store. Fix the source value, or set nulBytes(NulBytePolicy.STRIP) on the sink to remove"
                + " NUL characters");
          }
        }
      }
    }
  }

  private void commit(String subject) {
    try {
      conn.commit();
    } catch (SQLException e) {
      throw SqlErrors.commitFailed(subject, e);
    }
  }

  private void rollbackQuietly() {
    try {
      if (!conn.isClosed()) {
        conn.rollback();
      }
    } catch (SQLException e) {
      LOG.debug("{}: rollback on {} failed: {}", pipeline, display, e.toString());
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException(pipeline + ": the applier of " + display + " is closed");
    }
  }

  private static void closeQuietly(Connection c) {
    if (c != null) {
      try {
        c.close();
      } catch (SQLException ignored) {
        // nothing to do
      }
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    rollbackQuietly();
    closeQuietly(conn);
  }

  /** For messages: {@code postgres table public.t}. */
  @Override
  public String toString() {
    return "postgres table " + display;
  }

  /** Visible for tests: the load table name a target table derives. */
  public static String loadTableName(String table) {
    return Identifiers.derived(table, LOAD_SUFFIX);
  }
}
