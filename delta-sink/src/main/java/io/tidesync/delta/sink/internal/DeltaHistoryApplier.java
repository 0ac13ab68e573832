package io.tidesync.delta.sink.internal;

import io.delta.kernel.engine.Engine;
import io.delta.kernel.exceptions.ConcurrentTransactionException;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.FileStatus;
import io.tidesync.ApplyFailedException;
import io.tidesync.CommitStateUnknownException;
import io.tidesync.InvalidSourceDataException;
import io.tidesync.TidesyncException;
import io.tidesync.delta.sink.DeltaHistorySink;
import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.Position;
import io.tidesync.spi.SinkContext;
import io.tidesync.spi.TableId;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link ChangeApplier} of {@link DeltaHistorySink}; see the sink's class comment for the
 * protocol (transaction ids, partial batches, the snapshot marker). Used by one thread.
 */
public final class DeltaHistoryApplier implements ChangeApplier {
  private final java.util.Map<TableId, Long> skipThrough = new java.util.HashMap<>();
  private final java.util.concurrent.ThreadFactory threads;
  private static final Logger LOG = LoggerFactory.getLogger(DeltaHistoryApplier.class);

  private final DeltaHistorySink sink;
  private final String pipeline;
  private final FaultHook hook;
  private final Engine engine;
  private final String dir;
  private final String appId;
  private final SnapshotMarker marker;
  private final Map<TableId, HistoryTable> tables = new HashMap<>();
  /** Last committed LSN per table, as known to this applier (it is the pipeline's only writer). */
  private final Map<TableId, Long> committed = new HashMap<>();
  private final LinkedHashMap<TableId, HistoryTable.Pending> open = new LinkedHashMap<>();
  private BatchType openType;
  private long openLsn;
  private Boolean markerPresent;
  private boolean broken;

  public DeltaHistoryApplier(DeltaHistorySink sink, SinkContext context, FaultHook hook) {
    this.sink = sink;
    this.pipeline = context.pipelineName();
    this.threads = context.threadFactory();
    this.hook = hook;
    this.engine = sink.engine().orElseGet(() -> defaultEngine(sink));
    this.dir = sink.location();
    this.appId = "tidesync:" + pipeline;
    this.marker = new SnapshotMarker(engine, dir, pipeline);
  }

  /** A DefaultEngine over the sink's Hadoop configuration, the raw local file system and its target file size. */
  static Engine defaultEngine(DeltaHistorySink sink) {
    org.apache.hadoop.conf.Configuration hc = new org.apache.hadoop.conf.Configuration();
    hc.set("fs.file.impl", "org.apache.hadoop.fs.RawLocalFileSystem");
    hc.setBoolean("fs.file.impl.disable.cache", true);
    hc.setLong("delta.kernel.default.parquet.writer.targetMaxFileSize", sink.targetFileSize());
    sink.hadoopConfiguration().forEach(hc::set);
    return io.delta.kernel.defaults.engine.DefaultEngine.create(hc);
  }

  /** The application id of this pipeline's Delta transaction identifiers. */
  public String appId() {
    return appId;
  }

  /** The history table location of a source table. */
  public String tablePath(TableId table) {
    return dir + "/" + DeltaHistorySink.historyTableName(table);
  }

  /**
   * Empty until the pipeline's snapshot marker exists; then the smallest commit LSN over the
   * history tables that carry this pipeline's transaction id.
   */
  @Override
  public Optional<Position> committedPosition() {
    try {
      Optional<Position> snap = marker.read();
      markerPresent = snap.isPresent();
      if (snap.isEmpty()) {
        return Optional.empty();
      }
      Long min = null;
      try (CloseableIterator<FileStatus> it = engine.getFileSystemClient().listFrom(dir + "/lb_")) {
        while (it.hasNext()) {
          String p = it.next().getPath();
          String name = p.substring(p.lastIndexOf('/') + 1);
          if (!name.startsWith("lb_") || !name.endsWith("_history")) {
            continue;
          }
          HistoryTable t = HistoryTable.load(engine, dir + "/" + name, appId, sink.naming(), threads);
          Optional<Long> v = t.committedLsn();
          if (v.isPresent() && (min == null || v.get() < min)) {
            min = v.get();
          }
        }
      } catch (FileNotFoundException e) {
        // no directory: no tables
      }
      return Optional.of(min == null ? snap.get() : new Position(snap.get().source(), Long.toString(min)));
    } catch (IOException | UncheckedIOException e) {
      throw new TidesyncException(pipeline + ": cannot read the committed position from " + dir + ": " + e.getMessage()
          + ". Check that the directory is reachable", e, true);
    }
  }

  @Override
  public ApplyResult apply(ChangeBatch batch) {
    if (broken) {
      throw new TidesyncException(pipeline + ": cannot apply " + batch + ": an earlier batch of the same transaction"
          + " failed and its rows are lost from this applier. Reopen the pipeline so the source replays the transaction");
    }
    try {
      return doApply(batch);
    } catch (TidesyncException e) {
      fail();
      throw e;
    } catch (io.delta.kernel.exceptions.CommitStateUnknownException e) {
      fail();
      throw new CommitStateUnknownException(tablePath(batch.table()) + ": cannot tell whether the commit of " + batch
          + " happened: " + e.getMessage() + ". Restart the pipeline: replayed batches already committed are skipped", e);
    } catch (Exception e) {
      fail();
      boolean io = e instanceof IOException || e instanceof UncheckedIOException
          || e instanceof io.delta.kernel.exceptions.KernelEngineException;
      throw new ApplyFailedException(tablePath(batch.table()) + ": cannot append " + batch + ": " + e
          + (io ? ". Check that the location is reachable and writable; the batch is retried"
              : ". Nothing was committed for this batch"), null, e, io);
    }
  }

  private void fail() {
    if (!open.isEmpty()) {
      broken = true;
    }
    abortOpen();
  }

  private ApplyResult doApply(ChangeBatch batch) throws Exception {
    long lsn = batch.endPosition().offsetAsLong();
    if (!open.isEmpty()) {
      if (batch.type() == BatchType.SNAPSHOT && openType == BatchType.SNAPSHOT) {
        commitOpenExcept(batch.table()); // the previous table's snapshot ended
      } else if (batch.type() != openType || lsn != openLsn) {
        throw new InvalidSourceDataException(pipeline + ": cannot apply " + batch + ": the " + openType
            + " unit ending at " + openLsn + " for " + open.keySet() + " was never completed (its last batch was partial)."
            + " The source broke the batch contract; restart the pipeline");
      }
    }
    TableId id = batch.table();
    HistoryTable t = table(id);
    HistoryTable.Pending p = open.get(id);
    long skipped = 0;
    if (p == null) {
      Long done = committed.get(id);
      if (done != null && lsn <= done) {
        LOG.debug("{}: skipping replayed {} (table committed up to {})", pipeline, batch, done);
        skipped = batch.rowCount();
      } else {
        t.prepare(batch.schema());
        boolean replace = batch.type() == BatchType.SNAPSHOT && done != null && !markerPresent();
        p = t.begin(lsn, replace);
        open.put(id, p);
        // a unit can hold several source transactions: those this table already committed (a crash
        // between the tables' commits of one unit) are left out row by row
        skipThrough.put(id, batch.type() == BatchType.CHANGES && done != null ? done : Long.MIN_VALUE);
        openType = batch.type();
        openLsn = lsn;
      }
    } else {
      t.prepare(batch.schema());
    }
    if (p != null) {
      long through = skipThrough.getOrDefault(id, Long.MIN_VALUE);
      int from = 0;
      while (from < batch.rowCount() && batch.commitVersion(from) <= through) {
        from++;
      }
      skipped = from;
      p.write(batch, from, !batch.isPartial() && open.size() == 1 && p.rows() == 0);
      hook.at(FaultHook.Point.AFTER_WRITE_FILES, id);
    }
    if (!batch.isPartial()) {
      commitOpenExcept(null);
      if (batch.lastOfSnapshot()) {
        marker.write(batch.endPosition());
        markerPresent = true;
        LOG.info("{}: initial snapshot complete at {}", pipeline, batch.endPosition());
        hook.at(FaultHook.Point.AFTER_MARKER, id);
      }
    }
    if (skipped == batch.rowCount() && skipped > 0) {
      return new ApplyResult(0, 0, 0, skipped);
    }
    long ins = 0;
    long upd = 0;
    long del = 0;
    for (int r = (int) skipped; r < batch.rowCount(); r++) {
      switch (batch.kind(r)) {
        case INSERT -> ins++;
        case UPDATE_POSTIMAGE -> upd++;
        case DELETE -> del++;
        default -> { }
      }
    }
    return new ApplyResult(ins, upd, del, skipped);
  }

  private boolean markerPresent() throws IOException {
    if (markerPresent == null) {
      markerPresent = marker.read().isPresent();
    }
    return markerPresent;
  }

  private HistoryTable table(TableId id) {
    HistoryTable t = tables.get(id);
    if (t == null) {
      t = HistoryTable.load(engine, tablePath(id), appId, sink.naming(), threads);
      tables.put(id, t);
      t.committedLsn().ifPresent(v -> committed.put(id, v));
    }
    return t;
  }

  /** Commits every open unit (except {@code keep}'s) in the order they were opened. */
  private void commitOpenExcept(TableId keep) throws Exception {
    Iterator<Map.Entry<TableId, HistoryTable.Pending>> it = open.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<TableId, HistoryTable.Pending> e = it.next();
      if (e.getKey().equals(keep)) {
        continue;
      }
      HistoryTable.Pending p = e.getValue();
      try {
        long v = p.commit();
        LOG.debug("{}: committed {} rows in {} files to {} version {} at lsn {}", pipeline, p.rows(), p.fileCount(),
            p.path(), v, p.lsn());
      } catch (ConcurrentTransactionException already) {
        LOG.info("{}: {} already holds lsn {} of this pipeline: treated as committed", pipeline, p.path(), p.lsn());
      }
      committed.put(e.getKey(), p.lsn());
      it.remove();
      hook.at(FaultHook.Point.AFTER_COMMIT, e.getKey());
    }
  }

  private void abortOpen() {
    for (HistoryTable.Pending p : open.values()) {
      p.close();
    }
    open.clear();
  }

  @Override
  public void close() {
    abortOpen();
  }
}
