package io.tidesync.delta.sink;

import io.delta.kernel.engine.Engine;
import io.tidesync.delta.sink.internal.DeltaHistoryApplier;
import io.tidesync.delta.sink.internal.FaultHook;
import io.tidesync.delta.sink.internal.Locations;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeSink;
import io.tidesync.spi.SinkContext;
import io.tidesync.spi.TableId;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Appends every change of a source table to an append-only Delta history table
 * {@code <directory>/lb_<table>_history}, through Delta Kernel transactions, exactly once.
 *
 * <pre>{@code
 * SyncPipeline p = SyncPipeline.builder("orders-history")
 *     .source(PostgresChangeSource.forTables("public.orders").dataSource(ds))
 *     .sink(DeltaHistorySink.intoDirectory("/lake/bronze")      // lb_orders_history
 *         .withNaming(HistoryNaming.LAKEHOUSE_SYNC)
 *         .withTargetFileSize(128L << 20))
 *     .mode(SyncMode.CONTINUOUS)
 *     .build();
 * }</pre>
 *
 * <p>Each history table has the source columns followed by the metadata columns of the chosen
 * {@link HistoryNaming}. It is created when missing (without Change Data Feed). Tables of a
 * Postgres schema other than {@code public} are named {@code lb_<schema>_<table>_history}.
 *
 * <p>Exactly once: every commit carries a Delta transaction identifier
 * ({@code appId = "tidesync:" + pipeline}, {@code version} = the commit LSN of the last source
 * transaction written), so a replayed batch is recognized and skipped. A source transaction split
 * over several batches is committed to each table in one Delta commit. After the initial snapshot
 * the sink writes {@code <directory>/_tidesync/<pipeline>.snapshot}; the committed position is the
 * minimum over the pipeline's history tables, and empty until that marker exists.
 *
 * <p>An immutable value: every {@code withX} returns a copy; instances may be shared between
 * threads. Nothing here does I/O; {@link #open} does, on the pipeline's worker thread.
 */
public final class DeltaHistorySink implements ChangeSink {
  /** 128 MiB. */
  public static final long DEFAULT_TARGET_FILE_SIZE = 128L << 20;

  private final String directory;
  private final HistoryNaming naming;
  private final long targetFileSize;
  private final Map<String, String> hadoopConf;
  private final Engine engine;
  private final SchemaEvolution schemaEvolution;

  private DeltaHistorySink(String directory, HistoryNaming naming, long targetFileSize, Map<String, String> hadoopConf,
      Engine engine, SchemaEvolution schemaEvolution) {
    this.directory = directory;
    this.naming = naming;
    this.targetFileSize = targetFileSize;
    this.hadoopConf = hadoopConf;
    this.engine = engine;
    this.schemaEvolution = schemaEvolution;
  }

  /**
   * A sink writing history tables under {@code directory}: a local path or a Hadoop file system
   * URI ({@code file:}, {@code s3a:}, {@code abfss:} ...). Problems are reported by
   * {@link #validate()}.
   */
  public static DeltaHistorySink intoDirectory(String directory) {
    return new DeltaHistorySink(directory, HistoryNaming.LAKEHOUSE_SYNC, DEFAULT_TARGET_FILE_SIZE, Map.of(), null,
        SchemaEvolution.FAIL);
  }

  /** The metadata column names; {@link HistoryNaming#LAKEHOUSE_SYNC} by default. */
  public DeltaHistorySink withNaming(HistoryNaming naming) {
    Objects.requireNonNull(naming, "naming");
    return new DeltaHistorySink(directory, naming, targetFileSize, hadoopConf, engine, schemaEvolution);
  }

  /**
   * The size a data file grows to before the next one starts (128 MiB by default). All rows of
   * one Delta commit go to as few files as this allows, however many batches they came in. With
   * {@link #withEngine} the engine's own Parquet writer settings apply instead.
   */
  public DeltaHistorySink withTargetFileSize(long bytes) {
    return new DeltaHistorySink(directory, naming, bytes, hadoopConf, engine, schemaEvolution);
  }

  /** Hadoop configuration entries for the default engine (credentials, endpoints); ignored with {@link #withEngine}. */
  public DeltaHistorySink withHadoopConfiguration(Map<String, String> conf) {
    Objects.requireNonNull(conf, "conf");
    return new DeltaHistorySink(directory, naming, targetFileSize,
        Collections.unmodifiableMap(new LinkedHashMap<>(conf)), engine, schemaEvolution);
  }

  /**
   * The Delta Kernel engine to write with. Without it each applier makes a {@code DefaultEngine}
   * from the Hadoop configuration (with {@code RawLocalFileSystem} for {@code file:}).
   */
  public DeltaHistorySink withEngine(Engine engine) {
    Objects.requireNonNull(engine, "engine");
    return new DeltaHistorySink(directory, naming, targetFileSize, hadoopConf, engine, schemaEvolution);
  }

  /** What to do when a source table gains columns; {@link SchemaEvolution#FAIL} by default. */
  public DeltaHistorySink withSchemaEvolution(SchemaEvolution evolution) {
    Objects.requireNonNull(evolution, "evolution");
    return new DeltaHistorySink(directory, naming, targetFileSize, hadoopConf, engine, evolution);
  }

  /** The directory as given. */
  public String directory() {
    return directory;
  }

  /** The normalized directory location, e.g. {@code file:/lake/bronze}. */
  public String location() {
    return Locations.normalize(directory);
  }

  public HistoryNaming naming() {
    return naming;
  }

  public long targetFileSize() {
    return targetFileSize;
  }

  public Map<String, String> hadoopConfiguration() {
    return hadoopConf;
  }

  public Optional<Engine> engine() {
    return Optional.ofNullable(engine);
  }

  public SchemaEvolution schemaEvolution() {
    return schemaEvolution;
  }

  /**
   * The history table name for a source table: {@code lb_<table>_history}, or
   * {@code lb_<schema>_<table>_history} when the schema is neither empty nor {@code public}.
   */
  public static String historyTableName(TableId table) {
    String ns = table.namespace();
    return ns.isEmpty() || ns.equals("public") ? "lb_" + table.name() + "_history"
        : "lb_" + ns + "_" + table.name() + "_history";
  }

  @Override
  public List<String> validate() {
    List<String> problems = new ArrayList<>();
    if (directory == null || directory.isBlank()) {
      problems.add("history directory is blank: pass a directory or URI to DeltaHistorySink.intoDirectory");
    } else {
      String p = Locations.problem(directory);
      if (p != null) {
        problems.add(p);
      }
    }
    if (targetFileSize < 1024) {
      problems.add("target file size " + targetFileSize + " is too small: pass at least 1024 bytes to withTargetFileSize"
          + " (the default is 128 MiB)");
    }
    if (schemaEvolution == SchemaEvolution.ADD_COLUMNS) {
      problems.add("schema evolution ADD_COLUMNS is not supported: Delta Kernel 4.4 changes a schema only on tables with"
          + " column mapping and cannot append to such tables; use SchemaEvolution.FAIL");
    }
    for (Map.Entry<String, String> e : hadoopConf.entrySet()) {
      if (e.getKey() == null || e.getKey().isBlank() || e.getValue() == null) {
        problems.add("Hadoop configuration entry '" + e.getKey() + "' has a blank name or a null value: remove it");
      }
    }
    return problems;
  }

  /**
   * Opens an applier on the pipeline's worker thread. Does not create tables yet: each history
   * table is created when its first batch arrives.
   *
   * @throws io.tidesync.ConfigurationException if {@link #validate()} reports problems
   */
  @Override
  public ChangeApplier open(SinkContext context) {
    List<String> problems = validate();
    if (!problems.isEmpty()) {
      throw io.tidesync.ConfigurationException.of(describe(), problems);
    }
    return new DeltaHistoryApplier(this, context, FaultHook.NONE);
  }

  @Override
  public String describe() {
    return "delta history tables in " + (directory == null ? "<no directory>" : directory);
  }

  @Override
  public String toString() {
    return describe();
  }
}
