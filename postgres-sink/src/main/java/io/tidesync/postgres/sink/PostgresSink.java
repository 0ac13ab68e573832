package io.tidesync.postgres.sink;

import io.tidesync.ConfigurationException;
import io.tidesync.postgres.sink.internal.Identifiers;
import io.tidesync.postgres.sink.internal.PostgresApplier;
import io.tidesync.postgres.sink.internal.SinkSettings;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeSink;
import io.tidesync.spi.SinkContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import javax.sql.DataSource;

/**
 * Mirrors a source table into a PostgreSQL table by primary key, with the pipeline's position
 * committed in the same transaction as the rows.
 *
 * <pre>{@code
 * PostgresSink sink = PostgresSink.forTable("public.user_profiles")
 *     .dataSource(dataSource)
 *     .primaryKey("user_id")
 *     .columnType("price", "numeric(12,2)");
 * SyncPipeline p = SyncPipeline.builder("profiles").source(source).sink(sink).build();
 * }</pre>
 *
 * <p>An immutable value: every method returns a changed copy, so one sink can be shared and
 * varied. Nothing is checked or connected until {@link #validate()} (no I/O) and
 * {@link #open(SinkContext)} (called by the pipeline's worker thread).
 *
 * <p>What it does to the database:
 * <ul>
 *   <li>Creates {@code <stateSchema>.sync_state} when missing; each batch's end position is
 *       written there, keyed by (pipeline, target), in the transaction of the batch's rows.
 *   <li>Creates the target schema and table when missing, with the type mapping of the
 *       architecture (INT8/INT16 smallint, INT32 integer, INT64 bigint, BOOLEAN boolean, FLOAT32
 *       real, FLOAT64 double precision, DECIMAL numeric(p,s), STRING text, BINARY bytea, DATE date,
 *       TIMESTAMP_TZ timestamptz, TIMESTAMP_NTZ timestamp, JSON jsonb) or the
 *       {@link #columnType overrides}, and the primary key. Adds new source columns. The target
 *       may have extra nullable columns. Any other difference (a column of another type, a
 *       missing key column) stops with an {@link io.tidesync.SchemaMismatchException}.
 *   <li>Reduces each batch of changes per key and commit version (see {@link #timeseriesKey}),
 *       then applies it by COPY + MERGE or batched upserts ({@link ApplyMode}).
 *   <li>Loads a snapshot into {@code <table>__ts_load} (committed per batch) and swaps it in for
 *       the target with the position in one transaction: readers see the old table or the new
 *       one. The swap drops the old table: privileges granted on it, its comments, triggers and
 *       secondary indexes are <b>not</b> carried over (grant them again after the first
 *       snapshot), and views that depend on it make the swap fail with an error naming them
 *       (drop them first, or recreate them after).
 * </ul>
 */
public final class PostgresSink implements ChangeSink {
  private static final int DEFAULT_COPY_THRESHOLD = 1000;

  private final String tableName;
  private final DataSource dataSource;
  private final List<String> primaryKey;
  private final boolean primaryKeyFromSource;
  private final ApplyMode applyMode;
  private final int copyThreshold;
  private final Map<String, String> columnTypes;
  private final String timeseriesKey;
  private final NulBytePolicy nulBytes;
  private final String stateSchema;

  private PostgresSink(String tableName, DataSource dataSource, List<String> primaryKey, boolean primaryKeyFromSource,
      ApplyMode applyMode, int copyThreshold, Map<String, String> columnTypes, String timeseriesKey, NulBytePolicy nulBytes,
      String stateSchema) {
    this.tableName = tableName;
    this.dataSource = dataSource;
    this.primaryKey = primaryKey;
    this.primaryKeyFromSource = primaryKeyFromSource;
    this.applyMode = applyMode;
    this.copyThreshold = copyThreshold;
    this.columnTypes = columnTypes;
    this.timeseriesKey = timeseriesKey;
    this.nulBytes = nulBytes;
    this.stateSchema = stateSchema;
  }

  /**
   * A sink for {@code table}: {@code "table"} (in the connection's current schema, normally
   * {@code public}), {@code "schema.table"}, or quoted parts such as
   * {@code "\"My Schema\".\"Orders\""}. Unquoted parts are folded to lower case, as PostgreSQL
   * does. Never throws: {@link #validate()} reports a name that does not parse.
   */
  public static PostgresSink forTable(String table) {
    return new PostgresSink(table, null, List.of(), false, ApplyMode.AUTO, DEFAULT_COPY_THRESHOLD, Map.of(), null,
        NulBytePolicy.FAIL, "tidesync");
  }

  /** Where connections come from (a pool, or a Lakebase data source). Required. */
  public PostgresSink dataSource(DataSource ds) {
    return new PostgresSink(tableName, ds, primaryKey, primaryKeyFromSource, applyMode, copyThreshold, columnTypes,
        timeseriesKey, nulBytes, stateSchema);
  }

  /**
   * The target's primary key columns, by source column name (case-sensitive). Required unless
   * {@link #primaryKeyFromSource()}; when both are given, these columns win.
   */
  public PostgresSink primaryKey(String... columns) {
    return new PostgresSink(tableName, dataSource, List.copyOf(Arrays.asList(columns)), primaryKeyFromSource, applyMode,
        copyThreshold, columnTypes, timeseriesKey, nulBytes, stateSchema);
  }

  /**
   * Takes the primary key from the batches' schema, for sources that know it (Postgres ones do,
   * Delta does not). A batch without a key then fails with a {@link ConfigurationException}.
   */
  public PostgresSink primaryKeyFromSource() {
    return new PostgresSink(tableName, dataSource, primaryKey, true, applyMode, copyThreshold, columnTypes, timeseriesKey,
        nulBytes, stateSchema);
  }

  /** How batches of changes are written; default {@link ApplyMode#AUTO}. */
  public PostgresSink applyMode(ApplyMode mode) {
    return new PostgresSink(tableName, dataSource, primaryKey, primaryKeyFromSource, mode, copyThreshold, columnTypes,
        timeseriesKey, nulBytes, stateSchema);
  }

  /** For {@link ApplyMode#AUTO}: batches with at least this many rows (after reduction) use COPY_MERGE. Default 1000. */
  public PostgresSink copyThreshold(int rows) {
    return new PostgresSink(tableName, dataSource, primaryKey, primaryKeyFromSource, applyMode, rows, columnTypes,
        timeseriesKey, nulBytes, stateSchema);
  }

  /**
   * The PostgreSQL type of one target column instead of the default mapping, e.g.
   * {@code columnType("price", "numeric(12,2)")}. Values are converted with an SQL cast. Checked
   * against an existing target like the default mapping.
   */
  public PostgresSink columnType(String column, String postgresType) {
    Map<String, String> m = new LinkedHashMap<>(columnTypes);
    m.put(column, postgresType);
    return new PostgresSink(tableName, dataSource, primaryKey, primaryKeyFromSource, applyMode, copyThreshold,
        Collections.unmodifiableMap(m), timeseriesKey, nulBytes, stateSchema);
  }

  /**
   * A column whose latest value wins when one commit version holds different post-images of one
   * key (without it, that is an {@link io.tidesync.InvalidSourceDataException}). Equal values with
   * different rows are still an error; a null value counts as the oldest.
   */
  public PostgresSink timeseriesKey(String column) {
    return new PostgresSink(tableName, dataSource, primaryKey, primaryKeyFromSource, applyMode, copyThreshold, columnTypes,
        column, nulBytes, stateSchema);
  }

  /** What to do with NUL characters in text values; default {@link NulBytePolicy#FAIL}. */
  public PostgresSink nulBytes(NulBytePolicy policy) {
    return new PostgresSink(tableName, dataSource, primaryKey, primaryKeyFromSource, applyMode, copyThreshold, columnTypes,
        timeseriesKey, policy, stateSchema);
  }

  /** The schema of the {@code sync_state} table; default {@code tidesync}. */
  public PostgresSink stateSchema(String schema) {
    return new PostgresSink(tableName, dataSource, primaryKey, primaryKeyFromSource, applyMode, copyThreshold, columnTypes,
        timeseriesKey, nulBytes, schema);
  }

  /** Every problem with the settings, each naming the setting and the fix; no I/O. */
  @Override
  public List<String> validate() {
    List<String> problems = new ArrayList<>();
    if (tableName == null || tableName.isBlank()) {
      problems.add("forTable: the table name is blank; give \"table\" or \"schema.table\"");
    } else {
      try {
        Identifiers.parse(tableName);
      } catch (IllegalArgumentException e) {
        problems.add("forTable(\"" + tableName + "\"): " + e.getMessage() + "; give \"table\", \"schema.table\" or quoted"
            + " parts such as \"\\\"My Schema\\\".\\\"Orders\\\"\"");
      }
    }
    if (dataSource == null) {
      problems.add("dataSource: not set; call dataSource(ds) with the target database's DataSource");
    }
    if (primaryKey.isEmpty() && !primaryKeyFromSource) {
      problems.add("primaryKey: not set; call primaryKey(\"column\", ..), or primaryKeyFromSource() for sources that"
          + " carry a key (Postgres)");
    }
    Set<String> seen = new HashSet<>();
    for (String k : primaryKey) {
      if (k == null || k.isBlank()) {
        problems.add("primaryKey: a column name is blank; give the source's column names");
      } else if (!seen.add(k)) {
        problems.add("primaryKey: column \"" + k + "\" is listed twice; list each key column once");
      }
    }
    if (applyMode == null) {
      problems.add("applyMode: null; use ApplyMode.AUTO, COPY_MERGE or BATCHED_UPSERT");
    }
    if (copyThreshold < 1) {
      problems.add("copyThreshold: " + copyThreshold + " is not a row count; give 1 or more (default 1000)");
    }
    for (Map.Entry<String, String> e : columnTypes.entrySet()) {
      if (e.getKey() == null || e.getKey().isBlank()) {
        problems.add("columnType: an override has a blank column name; give the source column's name");
      }
      if (e.getValue() == null || e.getValue().isBlank()) {
        problems.add("columnType(\"" + e.getKey() + "\"): the type is blank; give a PostgreSQL type such as numeric(12,2)");
      } else if (e.getValue().contains(";") || e.getValue().contains("--")) {
        problems.add("columnType(\"" + e.getKey() + "\"): \"" + e.getValue() + "\" is not a type name; give a PostgreSQL"
            + " type such as numeric(12,2)");
      }
    }
    if (timeseriesKey != null && timeseriesKey.isBlank()) {
      problems.add("timeseriesKey: the column name is blank; give a column name or leave it unset");
    }
    if (nulBytes == null) {
      problems.add("nulBytes: null; use NulBytePolicy.FAIL or STRIP");
    }
    if (stateSchema == null || stateSchema.isBlank()) {
      problems.add("stateSchema: blank; give a schema name (default \"tidesync\")");
    }
    return problems;
  }

  /**
   * Connects (one connection for the applier) and creates the sync_state table when missing.
   * Called by the pipeline's worker thread.
   *
   * @throws ConfigurationException if {@link #validate()} finds problems or an override type is
   *     unknown to the server
   * @throws io.tidesync.ApplyFailedException if the database cannot be reached or prepared
   */
  @Override
  public ChangeApplier open(SinkContext context) {
    Objects.requireNonNull(context, "context");
    List<String> problems = validate();
    if (!problems.isEmpty()) {
      throw ConfigurationException.of(context.pipelineName() + ": " + describe(), problems);
    }
    List<String> parts = Identifiers.parse(tableName);
    String schema = parts.size() == 2 ? parts.get(0) : null;
    String table = parts.get(parts.size() - 1);
    Boolean copyMerge = applyMode == ApplyMode.AUTO ? null : applyMode == ApplyMode.COPY_MERGE;
    return PostgresApplier.open(new SinkSettings(schema, table, dataSource, primaryKey, copyMerge, copyThreshold,
        columnTypes, timeseriesKey, nulBytes == NulBytePolicy.STRIP, stateSchema), context);
  }

  /** {@code postgres table public.orders}. */
  @Override
  public String describe() {
    return "postgres table " + tableName;
  }

  @Override
  public String toString() {
    return describe();
  }
}
