package io.tidesync.delta.source.internal;

import io.delta.kernel.engine.Engine;
import io.tidesync.ConfigurationException;
import io.tidesync.SourcePositionLostException;
import io.tidesync.SyncMode;
import io.tidesync.delta.source.DeltaChangeSource;
import io.tidesync.delta.source.PositionLostPolicy;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.Position;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SourceContext;
import io.tidesync.spi.TableId;
import io.tidesync.spi.TableSchema;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a Delta table for one pipeline run: a snapshot (SNAPSHOT batches at one version), then
 * change batches version after version, re-checking the log for new commits whenever it has
 * caught up. Used by the pipeline's worker thread only.
 *
 * <p>Within a version, every delete and update pre-image comes before any insert and update
 * post-image; a batch that ends inside a version has the end offset {@code "<v>#<n>"}. A batch
 * never mixes schemas: a commit whose metaData action changes the schema starts a new batch.
 */
public final class DeltaChangeReader implements ChangeReader {
  private static final Logger LOG = LoggerFactory.getLogger(DeltaChangeReader.class);

  private final String location;
  private final TableId tableId;
  private final KernelTable table;
  private final SourceContext ctx;
  private final PositionLostPolicy policy;
  private final boolean snapshotOnly;

  // snapshot in progress
  private KernelTable.VersionState snapState;
  private RowCursor snapCursor;
  private boolean finished;

  // changes
  private long applied = -1;
  private long skipRows;
  private KernelTable.VersionState schemaState;
  private KernelTable.CommitCursor commits;
  private long rangeStart;
  private long rangeEnd;
  private KernelTable.Commit current;
  private RowCursor currentRows;
  private long rowsDone;
  private KernelTable.Commit pending;
  private KernelTable.VersionState pendingState;
  private boolean closed;

  private DeltaChangeReader(String location, KernelTable table, SourceContext ctx, PositionLostPolicy policy,
      boolean snapshotOnly) {
    this.location = location;
    this.tableId = TableLocation.tableId(location);
    this.table = table;
    this.ctx = ctx;
    this.policy = policy;
    this.snapshotOnly = snapshotOnly;
  }

  /** Opens a reader as {@link DeltaChangeSource#open} documents. */
  public static DeltaChangeReader open(DeltaChangeSource src, ReadRequest request, SourceContext ctx) {
    String location = src.location();
    Engine engine = src.engine().orElseGet(() -> KernelTable.defaultEngine(src.hadoopConfiguration()));
    DeltaChangeReader r = new DeltaChangeReader(location, new KernelTable(location, engine), ctx,
        src.positionLostPolicy(), request.mode() == SyncMode.SNAPSHOT);
    try {
      r.start(src, request);
    } catch (RuntimeException e) {
      r.close();
      throw e;
    }
    return r;
  }

  private void start(DeltaChangeSource src, ReadRequest request) {
    KernelTable.VersionState latest = table.latestState();
    if (request.needsSnapshot()) {
      long v = src.snapshotVersion().orElse(latest.version());
      if (v > latest.version()) {
        throw new ConfigurationException(location + ": cannot snapshot version " + v + ": the table's latest version is "
            + latest.version() + ". Pass a version <= " + latest.version() + " to withSnapshotVersion");
      }
      KernelTable.VersionState s = latest;
      if (v != latest.version()) {
        try {
          s = table.stateAt(v);
        } catch (VersionUnavailableException e) {
          throw new ConfigurationException(location + ": cannot snapshot version " + v + ": the version is no longer "
              + "in the Delta log (" + e.getCause().getMessage() + "). Pass a newer version to withSnapshotVersion");
        }
      }
      LOG.info("{}: snapshot of {} at version {}", ctx.pipelineName(), location, v);
      startSnapshot(s);
      return;
    }
    Position p = request.start().orElseThrow();
    if (!p.source().equals(location)) {
      throw new ConfigurationException(location + ": cannot continue from position " + p + ": it belongs to "
          + p.source() + ", not to this table. Use a new pipeline name for this table (or point the pipeline back at "
          + p.source() + ")");
    }
    DeltaOffset off = DeltaOffset.parse(location, p);
    if (off.version() > latest.version()) {
      throw new ConfigurationException(location + ": cannot continue from version " + off.version()
          + ": the table's latest version is " + latest.version() + ", behind the position (was the table re-created"
          + " or restored from an older copy?). Use a new pipeline name to start over with a snapshot");
    }
    applied = off.appliedVersion();
    skipRows = off.rows();
    LOG.info("{}: reading changes of {} after {}", ctx.pipelineName(), location, p);
    if (applied < latest.version()) {
      // check up front that the next version can be read with the Change Data Feed
      long first = applied + 1;
      try {
        openRange(first);
        schemaState = table.stateAt(first);
      } catch (VersionUnavailableException e) {
        positionLost(first, e);
        return;
      }
      if (!schemaState.cdfEnabled()) {
        cdfDisabled(first);
      }
    } else {
      schemaState = latest;
    }
  }

  private void startSnapshot(KernelTable.VersionState s) {
    closeChanges();
    snapState = s;
    snapCursor = s.scan();
  }

  private void openRange(long from) {
    closeQuietly(commits);
    commits = table.commitsFrom(from);
    if (commits != null) {
      rangeStart = from;
      rangeEnd = commits.endVersion();
    }
  }

  /** Handles a start version that is gone: a new snapshot (RESNAPSHOT) or an error. */
  private void positionLost(long version, VersionUnavailableException e) {
    if (policy == PositionLostPolicy.RESNAPSHOT) {
      LOG.warn("{}: version {} of {} is no longer in the Delta log ({}); taking a new snapshot as "
          + "onPositionLost(RESNAPSHOT) asks", ctx.pipelineName(), version, location, e.getCause().getMessage());
      startSnapshot(table.latestState());
      return;
    }
    throw new SourcePositionLostException(location + ": cannot read changes from version " + version
        + ": the version is no longer in the Delta log (log cleanup or VACUUM removed it: "
        + e.getCause().getMessage() + "). Re-snapshot the table: use a new pipeline name, or opt in with "
        + "onPositionLost(RESNAPSHOT)", e.getCause());
  }

  /** Handles Change Data Feed disabled at {@code version}: a new snapshot (RESNAPSHOT) or an error. */
  private void cdfDisabled(long version) {
    String message = location + ": cannot read changes of versions " + (applied + 1) + ".." + Math.max(rangeEnd, version)
        + ": Change Data Feed is not enabled at version " + version
        + ". Enable delta.enableChangeDataFeed and re-snapshot (or opt in with onPositionLost(RESNAPSHOT))";
    if (policy == PositionLostPolicy.RESNAPSHOT) {
      LOG.warn("{}: {}; taking a new snapshot as onPositionLost(RESNAPSHOT) asks", ctx.pipelineName(), message);
      startSnapshot(table.latestState());
      return;
    }
    throw new ConfigurationException(message);
  }

  @Override
  public ChangeBatch poll() {
    if (closed) {
      throw new IllegalStateException(location + ": reader is closed");
    }
    if (snapCursor != null) {
      return pollSnapshot();
    }
    if (finished) {
      return null;
    }
    return pollChanges();
  }

  private ChangeBatch pollSnapshot() {
    KernelTable.VersionState s = snapState;
    long tsMicros = s.timestampMillis() * 1000L;
    ChangeBatchBuilder b = new ChangeBatchBuilder(ctx.allocator(), tableId, s.schema());
    try {
      while (snapCursor.hasNext() && !ctx.isFull(b)) {
        snapCursor.emit(b, s.version(), tsMicros);
      }
      boolean last = !snapCursor.hasNext();
      if (last) {
        snapCursor.close();
        snapCursor = null;
        snapState = null;
        applied = s.version();
        skipRows = 0;
        schemaState = s;
        finished = snapshotOnly;
      }
      ChangeBatch batch = b.build(BatchType.SNAPSHOT, last, Position.of(location, s.version()));
      LOG.debug("{}: {}", ctx.pipelineName(), batch);
      return batch;
    } catch (RuntimeException e) {
      b.close();
      throw e;
    }
  }

  private ChangeBatch pollChanges() {
    long startApplied = applied;
    long startRows = currentRows == null ? 0 : rowsDone;
    ChangeBatchBuilder b = null;
    try {
      while (true) {
        if (currentRows != null) {
          if (currentRows.hasNext()) {
            if (b == null) {
              b = new ChangeBatchBuilder(ctx.allocator(), tableId, schemaState.schema());
            }
            if (ctx.isFull(b)) {
              break;
            }
            currentRows.emit(b, current.version(), current.timestampMillis() * 1000L);
            rowsDone++;
            continue;
          }
          applied = current.version();
          rowsDone = 0;
          currentRows.close();
          currentRows = null;
          current = null;
          if (b != null && ctx.isFull(b)) {
            break;
          }
          continue;
        }
        KernelTable.Commit next;
        KernelTable.VersionState st;
        if (pending != null) {
          next = pending;
          st = pendingState;
          pending = null;
          pendingState = null;
        } else {
          try {
            next = nextCommit();
          } catch (VersionUnavailableException e) {
            closeQuietly(b);
            b = null;
            positionLost(e.version(), e);
            return pollSnapshot();
          }
          if (next == null) {
            break;
          }
          st = schemaState;
          if (next.hasMetadata()) {
            try {
              st = table.stateAt(next.version());
            } catch (VersionUnavailableException e) {
              closeQuietly(b);
              b = null;
              positionLost(e.version(), e);
              return pollSnapshot();
            }
          }
        }
        if (!st.cdfEnabled()) {
          if (b != null || applied != startApplied) {
            // hand over the versions read so far; the next poll meets this version again and stops
            pending = next;
            pendingState = st;
            break;
          }
          cdfDisabled(next.version());
          return pollSnapshot();
        }
        if (b != null && !st.schema().equals(b.schema())) {
          pending = next;
          pendingState = st;
          break;
        }
        schemaState = st;
        current = next;
        currentRows = next.rows(st);
        rowsDone = 0;
        if (skipRows > 0 && next.version() == applied + 1) {
          while (rowsDone < skipRows && currentRows.hasNext()) {
            currentRows.skip();
            rowsDone++;
          }
          skipRows = 0;
        }
      }
      long endRows = currentRows == null ? 0 : rowsDone;
      if (b == null && startApplied == applied && startRows == endRows) {
        return null;
      }
      if (b == null) {
        b = new ChangeBatchBuilder(ctx.allocator(), tableId, schemaState.schema());
      }
      Position end = currentRows != null && rowsDone > 0
          ? new Position(location, DeltaOffset.format(current.version(), rowsDone))
          : Position.of(location, applied);
      ChangeBatch batch = b.build(BatchType.CHANGES, false, end);
      LOG.debug("{}: {}", ctx.pipelineName(), batch);
      return batch;
    } catch (RuntimeException e) {
      closeQuietly(b);
      throw e;
    }
  }

  /** The next commit after the last one read, re-listing the log when the open range is exhausted. */
  private KernelTable.Commit nextCommit() {
    if (commits != null && commits.hasNext()) {
      return commits.next();
    }
    long from = applied + 1;
    openRange(from);
    if (commits == null || !commits.hasNext()) {
      return null;
    }
    return commits.next();
  }

  private void closeChanges() {
    closeQuietly(currentRows);
    currentRows = null;
    current = null;
    closeQuietly(commits);
    commits = null;
    pending = null;
    pendingState = null;
    rowsDone = 0;
    skipRows = 0;
  }

  /** The schema of the versions read last (for tests and diagnostics). */
  TableSchema currentSchema() {
    return schemaState == null ? null : schemaState.schema();
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    closeQuietly(snapCursor);
    snapCursor = null;
    closeChanges();
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c != null) {
      try {
        c.close();
      } catch (Exception e) {
        LOG.debug("close failed: {}", e.toString());
      }
    }
  }
}
