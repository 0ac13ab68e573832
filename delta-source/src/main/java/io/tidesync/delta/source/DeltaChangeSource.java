package io.tidesync.delta.source;

import io.delta.kernel.engine.Engine;
import io.tidesync.delta.source.internal.DeltaChangeReader;
import io.tidesync.delta.source.internal.TableLocation;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.ChangeSource;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SourceContext;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A Delta Lake table as a {@link ChangeSource}: snapshot reads with Delta Kernel's scan API and
 * change reads that return the rows Spark's {@code table_changes} returns (Change Data Feed).
 *
 * <pre>{@code
 * DeltaChangeSource src = DeltaChangeSource.forPath("s3a://lake/gold/user_profiles")
 *     .withHadoopConfiguration(Map.of("fs.s3a.endpoint", "..."))
 *     .onPositionLost(PositionLostPolicy.FAIL);
 * }</pre>
 *
 * <p>An immutable value: every {@code withX} returns a copy, and an instance may be shared between
 * pipelines and threads. Building one does no I/O; {@link #open} does.
 *
 * <p>Positions: {@code source} is the table's normalized location (see {@link #location()}),
 * {@code offset} is {@code "<v>"} (every change up to and including version {@code v} applied) or,
 * for a batch that ends inside a large version, {@code "<v>#<n>"} (version {@code v} applied up to
 * its first {@code n} rows in the reader's deterministic order).
 */
public final class DeltaChangeSource implements ChangeSource {
  private final String path;
  private final Map<String, String> hadoopConf;
  private final Engine engine;
  private final Long snapshotVersion;
  private final PositionLostPolicy positionLostPolicy;

  private DeltaChangeSource(String path, Map<String, String> hadoopConf, Engine engine, Long snapshotVersion,
      PositionLostPolicy positionLostPolicy) {
    this.path = path;
    this.hadoopConf = hadoopConf;
    this.engine = engine;
    this.snapshotVersion = snapshotVersion;
    this.positionLostPolicy = positionLostPolicy;
  }

  /**
   * A source for the Delta table at {@code path}: a local directory or any Hadoop file system URI
   * ({@code file:}, {@code s3a:}, {@code abfss:} ...). Problems are reported by {@link #validate()}.
   */
  public static DeltaChangeSource forPath(String path) {
    return new DeltaChangeSource(path, Map.of(), null, null, PositionLostPolicy.FAIL);
  }

  /** Hadoop configuration entries for the default engine (credentials, endpoints); ignored with {@link #withEngine}. */
  public DeltaChangeSource withHadoopConfiguration(Map<String, String> conf) {
    Objects.requireNonNull(conf, "conf");
    return new DeltaChangeSource(path, java.util.Collections.unmodifiableMap(new LinkedHashMap<>(conf)), engine,
        snapshotVersion, positionLostPolicy);
  }

  /**
   * The Delta Kernel engine to read with. Without it each reader makes a {@code DefaultEngine}
   * from the Hadoop configuration (with {@code RawLocalFileSystem} for {@code file:}).
   */
  public DeltaChangeSource withEngine(Engine engine) {
    Objects.requireNonNull(engine, "engine");
    return new DeltaChangeSource(path, hadoopConf, engine, snapshotVersion, positionLostPolicy);
  }

  /**
   * The version an initial snapshot copies, instead of the latest one (changes then continue from
   * the next version). A re-snapshot after a lost position always copies the latest version.
   */
  public DeltaChangeSource withSnapshotVersion(long version) {
    return new DeltaChangeSource(path, hadoopConf, engine, version, positionLostPolicy);
  }

  /** What to do when the committed position cannot be continued; {@link PositionLostPolicy#FAIL} by default. */
  public DeltaChangeSource onPositionLost(PositionLostPolicy policy) {
    Objects.requireNonNull(policy, "policy");
    return new DeltaChangeSource(path, hadoopConf, engine, snapshotVersion, policy);
  }

  /** The table path as given. */
  public String path() {
    return path;
  }

  /** The normalized table location used in positions and messages, e.g. {@code file:/lake/orders}. */
  public String location() {
    return TableLocation.normalize(path);
  }

  public Map<String, String> hadoopConfiguration() {
    return hadoopConf;
  }

  public Optional<Engine> engine() {
    return Optional.ofNullable(engine);
  }

  public OptionalLong snapshotVersion() {
    return snapshotVersion == null ? OptionalLong.empty() : OptionalLong.of(snapshotVersion);
  }

  public PositionLostPolicy positionLostPolicy() {
    return positionLostPolicy;
  }

  @Override
  public List<String> validate() {
    List<String> problems = new ArrayList<>();
    if (path == null || path.isBlank()) {
      problems.add("delta table path is blank: pass the table directory or URI to DeltaChangeSource.forPath");
    } else {
      String problem = TableLocation.problem(path);
      if (problem != null) {
        problems.add(problem);
      }
    }
    if (snapshotVersion != null && snapshotVersion < 0) {
      problems.add("snapshot version " + snapshotVersion + " is negative: pass a table version >= 0 to withSnapshotVersion");
    }
    for (Map.Entry<String, String> e : hadoopConf.entrySet()) {
      if (e.getKey() == null || e.getKey().isBlank() || e.getValue() == null) {
        problems.add("Hadoop configuration entry '" + e.getKey() + "' has a blank name or a null value: remove it");
      }
    }
    return problems;
  }

  /**
   * Opens a reader on the pipeline's worker thread: a snapshot when the request needs one,
   * otherwise the changes after the request's start position.
   *
   * @throws io.tidesync.ConfigurationException if the table does not exist, the position belongs
   *     to another table or is ahead of the table, or Change Data Feed is not enabled (with
   *     {@link PositionLostPolicy#FAIL})
   * @throws io.tidesync.SourcePositionLostException if the start version is no longer in the log
   *     (with {@link PositionLostPolicy#FAIL})
   */
  @Override
  public ChangeReader open(ReadRequest request, SourceContext context) {
    List<String> problems = validate();
    if (!problems.isEmpty()) {
      throw io.tidesync.ConfigurationException.of(describe(), problems);
    }
    return DeltaChangeReader.open(this, request, context);
  }

  @Override
  public String describe() {
    String p = path == null || path.isBlank() ? "<no path>" : (TableLocation.problem(path) == null ? location() : path);
    return "delta table " + p;
  }

  @Override
  public String toString() {
    return describe();
  }
}
