package io.tidesync.postgres.source.internal;

import io.tidesync.ConfigurationException;
import io.tidesync.SourcePositionLostException;
import io.tidesync.TidesyncException;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.Position;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SourceContext;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import org.postgresql.PGConnection;
import org.postgresql.replication.ReplicationSlotInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reader of a {@code PostgresChangeSource}: first the initial snapshot when one is needed
 * ({@link SnapshotCopier}, holding the replication connection that exported it open), then the
 * stream ({@link ChangeStream}). Used by the pipeline's worker thread only.
 */
public final class PostgresChangeReader implements ChangeReader {
  private static final Logger LOG = LoggerFactory.getLogger(PostgresChangeReader.class);

  private final SourceSettings settings;
  private final SourceContext context;
  private final Connections connections;
  private final ReplicationCatalog catalog;
  private final List<TableInfo> tables;
  private final String positionSource;
  private final long startLsn;
  private final long skipThroughLsn;
  private SnapshotCopier snapshot;
  private Connection snapshotExporter;
  private ChangeStream stream;
  private long acknowledged;
  private boolean closed;

  private PostgresChangeReader(SourceSettings settings, SourceContext context, Connections connections,
      ReplicationCatalog catalog, List<TableInfo> tables, String positionSource, long startLsn, long skipThroughLsn) {
    this.settings = settings;
    this.context = context;
    this.connections = connections;
    this.catalog = catalog;
    this.tables = tables;
    this.positionSource = positionSource;
    this.startLsn = startLsn;
    this.skipThroughLsn = skipThroughLsn;
  }

  /** Checks the server, prepares publication and slot, and positions the reader (see {@code PostgresChangeSource}). */
  public static PostgresChangeReader open(SourceSettings settings, ReadRequest request, SourceContext context) {
    Connections connections = new Connections(settings);
    ReplicationCatalog catalog = new ReplicationCatalog(settings, connections);
    String subject = settings.pipeline() + ": cannot open postgres source";
    try (Connection c = connections.plain()) {
      catalog.checkWalLevel(c);
      List<TableInfo> tables = catalog.loadTables(c);
      catalog.ensurePublication(c, tables);
      String database = catalog.database(c);
      String source = "postgres:" + settings.slotName() + "@" + database;
      ReplicationCatalog.SlotState slot = catalog.slot(c);
      if (slot != null && (!"pgoutput".equals(slot.plugin()) || !database.equals(slot.database()))) {
        throw new ConfigurationException(subject + ": replication slot " + settings.slotName() + " exists for plugin "
            + slot.plugin() + " on database " + slot.database() + ", not pgoutput on " + database
            + ". Choose another slotName, or drop it: SELECT pg_drop_replication_slot('" + settings.slotName() + "')");
      }
      if (!request.needsSnapshot()) {
        Position start = request.start().get();
        if (!start.source().equals(source)) {
          throw new ConfigurationException(subject + ": the sink's position " + start + " belongs to another source"
              + " than " + source + ". Use the slotName and database the history was captured with, or write to"
              + " another sink location");
        }
        if (slot == null) {
          throw new SourcePositionLostException(subject + ": replication slot " + settings.slotName() + " on database "
              + database + " does not exist, but the sink has position " + start + ": changes after it may be lost."
              + " Re-snapshot: drop the sink's history position (its history tables or resume marker) and run again,"
              + " which creates the slot and copies the tables", null);
        }
        if (slot.active()) {
          throw new TidesyncException(subject + ": replication slot " + settings.slotName()
              + " is in use by another process. Stop it, or give this pipeline its own slotName", null, true);
        }
        long lsn = start.offsetAsLong();
        PostgresChangeReader r = new PostgresChangeReader(settings, context, connections, catalog, tables, source,
            Math.max(lsn, slot.confirmedFlushLsn()), lsn);
        r.acknowledged = lsn;
        LOG.info("{}: resuming slot {} after {} (slot confirmed {})", settings.pipeline(), settings.slotName(),
            Lsn.format(lsn), Lsn.format(slot.confirmedFlushLsn()));
        return r;
      }
      if (slot != null) {
        if (slot.active()) {
          throw new TidesyncException(subject + ": replication slot " + settings.slotName()
              + " is in use by another process. Stop it, or give this pipeline its own slotName", null, true);
        }
        LOG.info("{}: dropping replication slot {} to take a new snapshot (the sink has no position)",
            settings.pipeline(), settings.slotName());
        catalog.dropSlot(c);
      }
      return startSnapshot(settings, context, connections, catalog, tables, source);
    } catch (SQLException e) {
      if ("42501".equals(e.getSQLState())) {
        throw new ConfigurationException(subject + ": " + e.getMessage() + ". Grant the source's user the needed"
            + " rights: REPLICATION (ALTER ROLE .. REPLICATION) and SELECT on the captured tables", e);
      }
      throw connections.failure("open postgres source", e);
    }
  }

  private static PostgresChangeReader startSnapshot(SourceSettings settings, SourceContext context,
      Connections connections, ReplicationCatalog catalog, List<TableInfo> tables, String source) {
    Connection exporter = connections.replication();
    try {
      ReplicationSlotInfo info = exporter.unwrap(PGConnection.class).getReplicationAPI().createReplicationSlot()
          .logical().withSlotName(settings.slotName()).withOutputPlugin("pgoutput").make();
      long cp = info.getConsistentPoint().asLong();
      LOG.info("{}: created replication slot {} at {}; copying {} tables under snapshot {}", settings.pipeline(),
          settings.slotName(), info.getConsistentPoint(), tables.size(), info.getSnapshotName());
      PostgresChangeReader r = new PostgresChangeReader(settings, context, connections, catalog, tables, source, cp, 0);
      r.snapshotExporter = exporter;
      r.snapshot = new SnapshotCopier(settings.pipeline(), context, connections.plain(), info.getSnapshotName(), tables,
          cp, io.tidesync.spi.Position.of(source, cp));
      return r;
    } catch (SQLException e) {
      closeQuietly(exporter);
      if ("42501".equals(e.getSQLState())) {
        throw new ConfigurationException(settings.pipeline() + ": cannot create replication slot " + settings.slotName()
            + ": " + e.getMessage() + ". Give the user the REPLICATION attribute: ALTER ROLE .. REPLICATION", e);
      }
      if ("53400".equals(e.getSQLState())) {
        throw new ConfigurationException(settings.pipeline() + ": cannot create replication slot " + settings.slotName()
            + ": " + e.getMessage() + ". Drop unused slots or raise max_replication_slots", e);
      }
      throw connections.failure("create replication slot " + settings.slotName(), e);
    } catch (RuntimeException e) {
      closeQuietly(exporter);
      throw e;
    }
  }

  @Override
  public ChangeBatch poll() {
    if (closed) {
      throw new IllegalStateException("reader is closed");
    }
    if (snapshot != null) {
      ChangeBatch b = snapshot.next();
      if (b != null) {
        return b;
      }
      snapshot.close();
      snapshot = null;
      closeQuietly(snapshotExporter);
      snapshotExporter = null;
    }
    if (stream == null) {
      stream = new ChangeStream(settings, context, connections, catalog, tables, positionSource, startLsn,
          skipThroughLsn, acknowledged);
    }
    return stream.poll();
  }

  @Override
  public void acknowledge(Position position) {
    long lsn = position.offsetAsLong();
    acknowledged = Math.max(acknowledged, lsn);
    if (stream != null) {
      stream.acknowledge(lsn);
    }
  }

  /** Changes decoded from the stream so far (for measurements). */
  public long decodedChanges() {
    return stream == null ? 0 : stream.decodedChanges();
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (snapshot != null) {
      snapshot.close();
    }
    closeQuietly(snapshotExporter);
    if (stream != null) {
      stream.close();
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c != null) {
      try {
        c.close();
      } catch (Exception e) {
        // nothing to do
      }
    }
  }
}
