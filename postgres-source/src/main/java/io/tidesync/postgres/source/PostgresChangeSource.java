package io.tidesync.postgres.source;

import io.tidesync.ConfigurationException;
import io.tidesync.postgres.source.internal.PostgresChangeReader;
import io.tidesync.postgres.source.internal.QualifiedName;
import io.tidesync.postgres.source.internal.SourceSettings;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.ChangeSource;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SourceContext;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;
import javax.sql.DataSource;

/**
 * Captures every insert, update and delete of chosen Postgres tables through logical replication
 * (the {@code pgoutput} plugin), starting with a consistent snapshot of their rows.
 *
 * <pre>{@code
 * SyncPipeline p = SyncPipeline.builder("orders-history")
 *     .source(PostgresChangeSource.forTables("public.orders", "customers")
 *         .dataSource(dataSource)
 *         .replicaIdentity(ReplicaIdentityPolicy.SET_FULL))
 *     .sink(DeltaHistorySink.intoDirectory("/lake/bronze"))
 *     .mode(SyncMode.CONTINUOUS)
 *     .build();
 * }</pre>
 *
 * <p>An immutable value: every method returns a changed copy, so one instance can be shared.
 * {@link #validate()} does no I/O. {@link #open} (called by the pipeline's worker thread) checks
 * the server ({@code wal_level}, tables, column types, replica identity, permissions), creates the
 * publication and the replication slot when missing, and either copies the tables under the
 * slot's exported snapshot (no start position) or resumes the stream after the sink's position.
 *
 * <p>Positions are {@code postgres:<slot>@<database>} with the commit LSN of the last transaction
 * as offset. The slot's {@code confirmed_flush_lsn} only moves on
 * {@link ChangeReader#acknowledge}, or, when every delivered batch is acknowledged, to the
 * server's idle keepalive position so an idle slot does not pin WAL. Postgres re-sends the
 * transaction committed exactly at the confirmed LSN after a restart; the reader drops
 * transactions at or before the sink's start position, so nothing is delivered twice.
 *
 * <p>Value types (documented choices): unbounded {@code numeric} (and numeric wider than 38
 * digits or with a negative scale) is carried as STRING, losslessly, NaN and Infinity included;
 * {@code numeric(p,s)} is DECIMAL(p,s); {@code time} is STRING {@code HH:MM:SS.ffffff};
 * {@code uuid} and enums are STRING; arrays are JSON arrays; dates and timestamps before the
 * common era are proleptic (year 0 = 1 BC); {@code infinity} dates and timestamps are an error.
 */
public final class PostgresChangeSource implements ChangeSource {
  private final List<String> tables;
  private final DataSource dataSource;
  private final Supplier<Connection> replicationConnections;
  private final String slotName;
  private final String publicationName;
  private final ReplicaIdentityPolicy replicaIdentity;
  private final TruncatePolicy truncates;
  private final boolean streamLargeTransactions;
  private final Duration statusInterval;

  private PostgresChangeSource(List<String> tables, DataSource dataSource, Supplier<Connection> replicationConnections,
      String slotName, String publicationName, ReplicaIdentityPolicy replicaIdentity, TruncatePolicy truncates,
      boolean streamLargeTransactions, Duration statusInterval) {
    this.tables = tables;
    this.dataSource = dataSource;
    this.replicationConnections = replicationConnections;
    this.slotName = slotName;
    this.publicationName = publicationName;
    this.replicaIdentity = replicaIdentity;
    this.truncates = truncates;
    this.streamLargeTransactions = streamLargeTransactions;
    this.statusInterval = statusInterval;
  }

  /**
   * The tables to capture, as {@code schema.table} or {@code table} (schema {@code public}); a
   * part in double quotes keeps its case, as in SQL.
   */
  public static PostgresChangeSource forTables(String... tables) {
    List<String> list = new ArrayList<>();
    for (String t : Objects.requireNonNull(tables, "tables")) {
      list.add(t);
    }
    return new PostgresChangeSource(List.copyOf(list.stream().map(t -> t == null ? "" : t).toList()), null, null,
        null, null, ReplicaIdentityPolicy.REQUIRE_FULL, TruncatePolicy.FAIL, false, Duration.ofSeconds(10));
  }

  /**
   * Where connections come from: any {@code DataSource} (a pool included) for plain connections
   * (catalog checks, snapshot reads). Replication connections, unless
   * {@link #replicationConnections} is set, come from the same data source when it implements
   * (or unwraps to) {@link io.tidesync.spi.ReplicationConnectionFactory}, as
   * {@code LakebaseDataSource} does (a new credential check at every replication login), or else
   * from a pgjdbc {@code PGSimpleDataSource} (or a pool wrapping one), whose settings are copied
   * with {@code replication=database}.
   */
  public PostgresChangeSource dataSource(DataSource ds) {
    return new PostgresChangeSource(tables, ds, replicationConnections, slotName, publicationName, replicaIdentity,
        truncates, streamLargeTransactions, statusInterval);
  }

  /**
   * Opens logical replication connections ({@code replication=database},
   * {@code preferQueryMode=simple}, {@code assumeMinServerVersion=10}): for data sources that are
   * neither a pgjdbc DataSource nor a {@link io.tidesync.spi.ReplicationConnectionFactory}. Called
   * on the worker thread.
   */
  public PostgresChangeSource replicationConnections(Supplier<Connection> supplier) {
    return new PostgresChangeSource(tables, dataSource, supplier, slotName, publicationName, replicaIdentity,
        truncates, streamLargeTransactions, statusInterval);
  }

  /** The logical replication slot (default {@code tidesync_<pipeline name>}, sanitized, at most 63 bytes). */
  public PostgresChangeSource slotName(String name) {
    return new PostgresChangeSource(tables, dataSource, replicationConnections, name, publicationName,
        replicaIdentity, truncates, streamLargeTransactions, statusInterval);
  }

  /** The publication (default {@code tidesync_<pipeline name>}, sanitized). */
  public PostgresChangeSource publicationName(String name) {
    return new PostgresChangeSource(tables, dataSource, replicationConnections, slotName, name, replicaIdentity,
        truncates, streamLargeTransactions, statusInterval);
  }

  /** What to do about tables without {@code REPLICA IDENTITY FULL} (default {@link ReplicaIdentityPolicy#REQUIRE_FULL}). */
  public PostgresChangeSource replicaIdentity(ReplicaIdentityPolicy policy) {
    return new PostgresChangeSource(tables, dataSource, replicationConnections, slotName, publicationName, policy,
        truncates, streamLargeTransactions, statusInterval);
  }

  /** What to do on {@code TRUNCATE} of a captured table (default {@link TruncatePolicy#FAIL}). */
  public PostgresChangeSource truncates(TruncatePolicy policy) {
    return new PostgresChangeSource(tables, dataSource, replicationConnections, slotName, publicationName,
        replicaIdentity, policy, streamLargeTransactions, statusInterval);
  }

  /**
   * Whether the server streams large in-progress transactions (pgoutput protocol 2; the reader
   * spills them to temporary files until they commit, so memory stays bounded). Default false:
   * protocol 1, the server decodes each transaction fully before sending it.
   */
  public PostgresChangeSource streamLargeTransactions(boolean on) {
    return new PostgresChangeSource(tables, dataSource, replicationConnections, slotName, publicationName,
        replicaIdentity, truncates, on, statusInterval);
  }

  /** How often the reader reports its position to the server (default 10 s). */
  public PostgresChangeSource statusInterval(Duration interval) {
    return new PostgresChangeSource(tables, dataSource, replicationConnections, slotName, publicationName,
        replicaIdentity, truncates, streamLargeTransactions, interval);
  }

  @Override
  public List<String> validate() {
    List<String> problems = new ArrayList<>();
    if (tables.isEmpty()) {
      problems.add("no tables: pass at least one table to PostgresChangeSource.forTables(..)");
    }
    for (String t : tables) {
      String error = QualifiedName.problem(t);
      if (error != null) {
        problems.add(error);
      }
    }
    if (dataSource == null) {
      problems.add("no dataSource: call .dataSource(ds) with a DataSource of the captured database");
    }
    if (slotName != null && (slotName.isEmpty() || !slotName.matches("[a-z0-9_]{1,63}"))) {
      problems.add("slotName '" + slotName + "' is not valid: use 1 to 63 lower-case letters, digits and underscores");
    }
    if (publicationName != null && (publicationName.isEmpty() || publicationName.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 63)) {
      problems.add("publicationName '" + publicationName + "' is not valid: use 1 to 63 bytes");
    }
    if (replicaIdentity == null) {
      problems.add("replicaIdentity is null: use ReplicaIdentityPolicy.REQUIRE_FULL or SET_FULL");
    }
    if (truncates == null) {
      problems.add("truncates is null: use TruncatePolicy.FAIL or IGNORE");
    }
    if (statusInterval == null || statusInterval.isNegative() || statusInterval.isZero()
        || statusInterval.toMillis() > Integer.MAX_VALUE) {
      problems.add("statusInterval must be positive (default 10 s)");
    }
    return problems;
  }

  /**
   * Checks the server, prepares publication and slot, and returns a reader (see the class
   * comment).
   *
   * @throws ConfigurationException for settings or server state that cannot work (each with the
   *     statement or grant that fixes it)
   * @throws io.tidesync.SourcePositionLostException if the sink has a position but the slot is gone
   * @throws io.tidesync.TidesyncException for connection failures (retryable)
   */
  @Override
  public ChangeReader open(ReadRequest request, SourceContext context) {
    List<String> problems = validate();
    if (!problems.isEmpty()) {
      throw ConfigurationException.of(context.pipelineName() + ": " + describe(), problems);
    }
    List<QualifiedName> names = tables.stream().map(QualifiedName::parse).toList();
    String defaultName = SourceSettings.defaultName(context.pipelineName());
    SourceSettings settings = new SourceSettings(context.pipelineName(), names, dataSource, replicationConnections,
        slotName != null ? slotName : defaultName, publicationName != null ? publicationName : defaultName,
        replicaIdentity, truncates, streamLargeTransactions, statusInterval);
    return PostgresChangeReader.open(settings, request, context);
  }

  @Override
  public String describe() {
    return "postgres tables " + String.join(", ", tables) + (slotName == null ? "" : " (slot " + slotName + ")");
  }

  @Override
  public String toString() {
    return describe();
  }
}
