package io.tidesync.postgres.source.internal;

import io.tidesync.ConfigurationException;
import io.tidesync.InvalidSourceDataException;
import io.tidesync.TidesyncException;
import io.tidesync.postgres.source.TruncatePolicy;
import io.tidesync.postgres.source.internal.PgOutputMessage.*;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.Column;
import io.tidesync.spi.Position;
import io.tidesync.spi.SourceContext;
import io.tidesync.spi.TableId;
import io.tidesync.spi.TableSchema;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;
import org.postgresql.replication.fluent.logical.ChainedLogicalStreamBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The streaming half of a reader: START_REPLICATION, pgoutput decoding, and batch assembly.
 *
 * <p>Batches: rows of complete transactions accumulate per table and are handed over when the
 * stream has nothing more to say right now, or a table's batch is full. All batches handed over
 * together end at the same commit LSN and all but the last are partial, so the pipeline
 * acknowledges only once every table holds everything up to it. A transaction too large for one
 * batch is handed over in partial batches (position = its commit LSN) and completed by the batch
 * that follows its commit.
 */
final class ChangeStream implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ChangeStream.class);
  private static final long IDLE_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
  private static final long MAX_WAIT_NANOS = TimeUnit.SECONDS.toNanos(10);

  private final SourceSettings settings;
  private final SourceContext context;
  private final Connections connections;
  private final ReplicationCatalog catalog;
  private final Map<TableId, TableInfo> tables = new HashMap<>();
  private final String positionSource;
  private final long skipThroughLsn;

  private final Connection replicationConnection;
  private final PGReplicationStream stream;
  private Connection plain;

  private final Map<Integer, TableInfo> relations = new HashMap<>();
  private final LinkedHashMap<TableId, ChangeBatchBuilder> builders = new LinkedHashMap<>();
  private final ArrayDeque<ChangeBatch> ready = new ArrayDeque<>();
  private final Map<Long, StreamSpill> spills = new HashMap<>();
  private long streamXid = -1;

  private boolean inTransaction;
  private boolean skipTransaction;
  private long txnLsn;
  private long txnTimeMicros;
  private long txnXid;
  private TableInfo openPartialTable;
  private long lastCommitLsn;
  private long lastCommitEndLsn;

  private long lastEmittedEnd;
  private long acknowledged;
  private long confirmed;
  private long target = -1;
  private long changes;

  ChangeStream(SourceSettings settings, SourceContext context, Connections connections, ReplicationCatalog catalog,
      List<TableInfo> tableList, String positionSource, long startLsn, long skipThroughLsn, long acknowledged) {
    this.settings = settings;
    this.context = context;
    this.connections = connections;
    this.catalog = catalog;
    for (TableInfo t : tableList) {
      tables.put(t.name().tableId(), t);
    }
    this.positionSource = positionSource;
    this.skipThroughLsn = skipThroughLsn;
    this.acknowledged = acknowledged;
    this.confirmed = acknowledged;
    this.lastEmittedEnd = acknowledged;
    Connection c = connections.replication();
    try {
      ChainedLogicalStreamBuilder b = c.unwrap(PGConnection.class).getReplicationAPI().replicationStream().logical()
          .withSlotName(settings.slotName())
          .withStartPosition(LogSequenceNumber.valueOf(startLsn))
          .withSlotOption("proto_version", settings.streamLargeTransactions() ? "2" : "1")
          .withSlotOption("publication_names", settings.publicationName())
          .withStatusInterval((int) settings.statusInterval().toMillis(), TimeUnit.MILLISECONDS)
          .withAutomaticFlush(false);
      if (settings.streamLargeTransactions()) {
        b = b.withSlotOption("streaming", "on");
      }
      this.stream = b.start();
      if (acknowledged > 0) {
        stream.setAppliedLSN(LogSequenceNumber.valueOf(acknowledged));
        stream.setFlushedLSN(LogSequenceNumber.valueOf(acknowledged));
      }
    } catch (SQLException e) {
      closeQuietly(c);
      if ("42501".equals(e.getSQLState())) {
        throw new ConfigurationException(settings.pipeline() + ": cannot start replication from slot "
            + settings.slotName() + ": " + e.getMessage() + ". Give the user the REPLICATION attribute (ALTER ROLE .."
            + " REPLICATION) and SELECT on the published tables", e);
      }
      if ("55006".equals(e.getSQLState())) {
        throw new TidesyncException(settings.pipeline() + ": cannot start replication from slot " + settings.slotName()
            + ": " + e.getMessage() + ". Another process uses the slot: stop it, or give this pipeline its own slotName",
            e, true);
      }
      throw connections.failure("start replication from slot " + settings.slotName(), e);
    }
    this.replicationConnection = c;
    LOG.info("{}: streaming slot {} (publication {}, protocol {}) from {}", settings.pipeline(), settings.slotName(),
        settings.publicationName(), settings.streamLargeTransactions() ? 2 : 1, Lsn.format(startLsn));
  }

  long decodedChanges() {
    return changes;
  }

  /** The next batch, or null when caught up with the server's WAL position at the start of this round. */
  ChangeBatch poll() {
    try {
      if (target < 0) {
        target = ReplicationCatalog.currentWalLsn(plain());
      }
      long lastActivity = System.nanoTime();
      long started = lastActivity;
      while (true) {
        ChangeBatch b = ready.poll();
        if (b != null) {
          return b;
        }
        ByteBuffer buf = stream.readPending();
        if (buf != null) {
          lastActivity = System.nanoTime();
          handle(buf);
          continue;
        }
        boolean between = !inTransaction && streamXid < 0;
        if (between && (!builders.isEmpty() || openPartialTable != null)) {
          flush(true, lastCommitLsn);
          continue;
        }
        long now = System.nanoTime();
        boolean reached = stream.getLastReceiveLSN().asLong() >= target || lastCommitEndLsn >= target;
        if (between && reached && (now - lastActivity >= IDLE_WAIT_NANOS || lastCommitEndLsn >= target)) {
          confirmIfIdle();
          target = -1;
          return null;
        }
        if (between && now - started >= MAX_WAIT_NANOS && now - lastActivity >= IDLE_WAIT_NANOS) {
          LOG.debug("{}: WAL position {} not reported by the server within {} s; ending the round",
              settings.pipeline(), Lsn.format(target), TimeUnit.NANOSECONDS.toSeconds(MAX_WAIT_NANOS));
          confirmIfIdle();
          target = -1;
          return null;
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
      }
    } catch (SQLException e) {
      throw connections.failure("read the replication stream of slot " + settings.slotName(), e);
    }
  }

  void acknowledge(long lsn) {
    if (lsn <= acknowledged) {
      return;
    }
    acknowledged = lsn;
    if (lsn > confirmed) {
      confirm(lsn);
    }
  }

  private void confirm(long lsn) {
    try {
      LogSequenceNumber l = LogSequenceNumber.valueOf(lsn);
      stream.setAppliedLSN(l);
      stream.setFlushedLSN(l);
      stream.forceUpdateStatus();
      confirmed = lsn;
    } catch (SQLException e) {
      throw connections.failure("confirm LSN " + Lsn.format(lsn) + " to slot " + settings.slotName(), e);
    }
  }

  /** With nothing delivered and unacknowledged, confirm the server's position so an idle slot does not pin WAL. */
  private void confirmIfIdle() {
    boolean idle = ready.isEmpty() && builders.isEmpty() && openPartialTable == null && spills.isEmpty()
        && !inTransaction && lastEmittedEnd <= acknowledged;
    long received = stream.getLastReceiveLSN().asLong();
    if (idle && received > confirmed) {
      LOG.debug("{}: idle: confirming {} to slot {}", settings.pipeline(), Lsn.format(received), settings.slotName());
      confirm(received);
    }
  }

  private void handle(ByteBuffer buf) {
    ByteBuffer raw = buf.slice();
    PgOutputMessage m = PgOutputDecoder.decode(buf, streamXid >= 0);
    if (streamXid >= 0) {
      if (m instanceof Insert || m instanceof Update || m instanceof Delete || m instanceof Truncate) {
        spills.computeIfAbsent(streamXid, StreamSpill::new).append(raw);
        return;
      }
    }
    if (m instanceof Begin b) {
      beginTransaction(b.finalLsn(), b.commitTimeMicros(), b.xid());
    } else if (m instanceof Commit c) {
      endTransaction(c.commitLsn(), c.endLsn());
    } else if (m instanceof Relation r) {
      relation(r);
    } else if (m instanceof StreamStart s) {
      streamXid = s.xid();
    } else if (m instanceof StreamStop) {
      streamXid = -1;
    } else if (m instanceof StreamCommit c) {
      streamCommit(c);
    } else if (m instanceof StreamAbort a) {
      StreamSpill spill = spills.get(a.xid());
      if (a.subXid() == a.xid() || a.subXid() == 0) {
        if (spill != null) {
          spills.remove(a.xid()).close();
        }
      } else if (spill != null) {
        spill.abortSubtransaction(a.subXid());
      }
    } else if (m instanceof Insert || m instanceof Update || m instanceof Delete || m instanceof Truncate) {
      change(m);
    }
    // Type, Origin and logical Messages need nothing: types are resolved from the catalog.
  }

  private void beginTransaction(long commitLsn, long timeMicros, long xid) {
    inTransaction = true;
    txnLsn = commitLsn;
    txnTimeMicros = timeMicros;
    txnXid = xid;
    skipTransaction = commitLsn <= skipThroughLsn;
  }

  private void endTransaction(long commitLsn, long endLsn) {
    inTransaction = false;
    lastCommitEndLsn = Math.max(lastCommitEndLsn, endLsn);
    if (!skipTransaction) {
      lastCommitLsn = commitLsn;
      // partial batches already sent carry this commit LSN as their end: the unit must end here
      boolean end = openPartialTable != null;
      for (ChangeBatchBuilder b : builders.values()) {
        end |= context.isFull(b);
      }
      if (end) {
        flush(true, commitLsn);
      }
    }
  }

  private void streamCommit(StreamCommit c) {
    StreamSpill spill = spills.remove(c.xid());
    beginTransaction(c.commitLsn(), c.commitTimeMicros(), c.xid());
    if (spill != null) {
      LOG.debug("{}: streamed transaction {} committed at {}: replaying {} spilled changes", settings.pipeline(),
          c.xid(), Lsn.format(c.commitLsn()), spill.records());
      try (spill) {
        spill.replay(buf -> {
          PgOutputMessage m = PgOutputDecoder.decode(buf, true);
          if (!spill.isAborted(m.changeXid())) {
            change(m);
          }
        });
      }
    }
    endTransaction(c.commitLsn(), c.endLsn());
  }

  private void relation(Relation r) {
    TableInfo known = tables.get(TableId.of(r.namespace(), r.name()));
    if (known == null) {
      relations.remove(r.relationId());
      return; // a table of a shared publication that this source does not capture
    }
    boolean same = known.schema().size() == r.columns().size();
    for (int i = 0; same && i < r.columns().size(); i++) {
      same = known.schema().column(i).name().equals(r.columns().get(i).name());
    }
    TableInfo info = known;
    if (!same || r.replicaIdentity() != known.replicaIdentity()) {
      info = refreshed(known, r);
      tables.put(known.name().tableId(), info);
    }
    relations.put(r.relationId(), info);
  }

  /** The table after a schema change the Relation message shows (a column added, dropped or renamed). */
  private TableInfo refreshed(TableInfo old, Relation r) {
    List<Column> cols = new ArrayList<>();
    List<PgType> types = new ArrayList<>();
    try {
      for (RelationColumn rc : r.columns()) {
        int idx = old.schema().indexOf(rc.name());
        PgType t = idx >= 0 ? old.types().get(idx) : catalog.typeOf(plain(), rc.typeOid(), rc.typmod());
        if (t == null) {
          throw new ConfigurationException(settings.pipeline() + ": cannot capture table " + old.name() + ": column "
              + rc.name() + " (type oid " + rc.typeOid() + ") has a type history capture does not support (supported: "
              + PgType.supportedList() + "). Change the column's type or leave the table out");
        }
        cols.add(idx >= 0 ? old.schema().column(idx) : new Column(rc.name(), t.logical(), true));
        types.add(t);
      }
    } catch (SQLException e) {
      throw connections.failure("look up column types of " + old.name(), e);
    }
    List<String> key = old.schema().primaryKey().stream().filter(k -> cols.stream().anyMatch(c -> c.name().equals(k))).toList();
    LOG.info("{}: table {} changed: columns now {}", settings.pipeline(), old.name(), cols.stream().map(Column::name).toList());
    return new TableInfo(old.name(), old.oid(), TableSchema.of(cols, key), List.copyOf(types), r.replicaIdentity());
  }

  private void change(PgOutputMessage m) {
    if (skipTransaction) {
      return;
    }
    if (m instanceof Truncate t) {
      truncate(t);
      return;
    }
    int relId = m instanceof Insert i ? i.relationId() : m instanceof Update u ? u.relationId() : ((Delete) m).relationId();
    TableInfo table = relations.get(relId);
    if (table == null) {
      return;
    }
    ChangeBatchBuilder b = builder(table);
    if (m instanceof Insert i) {
      row(b, table, ChangeKind.INSERT, i.newTuple(), null);
    } else if (m instanceof Update u) {
      if (u.oldKind() != 'O') {
        throw noOldRow(table, "update");
      }
      row(b, table, ChangeKind.UPDATE_PREIMAGE, u.oldTuple(), null);
      row(b, table, ChangeKind.UPDATE_POSTIMAGE, u.newTuple(), u.oldTuple());
    } else {
      Delete d = (Delete) m;
      if (d.oldKind() != 'O') {
        throw noOldRow(table, "delete");
      }
      row(b, table, ChangeKind.DELETE, d.oldTuple(), null);
    }
    if (context.isFull(b)) {
      flush(false, txnLsn);
      openPartialTable = table;
    }
  }

  private InvalidSourceDataException noOldRow(TableInfo table, String what) {
    return new InvalidSourceDataException(settings.pipeline() + ": cannot capture " + what + " of table " + table.name()
        + " at LSN " + Lsn.format(txnLsn) + ": the server sent no old row, so the table's REPLICA IDENTITY is not FULL."
        + " Run: ALTER TABLE " + table.name().sql() + " REPLICA IDENTITY FULL, then re-snapshot (drop the history"
        + " position) since earlier changes lack their old rows");
  }

  private void truncate(Truncate t) {
    for (int relId : t.relationIds()) {
      TableInfo table = relations.get(relId);
      if (table == null) {
        continue;
      }
      if (settings.truncates() == TruncatePolicy.IGNORE) {
        LOG.warn("{}: TRUNCATE of {} at LSN {} ignored (TruncatePolicy.IGNORE): the history keeps its rows as live",
            settings.pipeline(), table.name(), Lsn.format(txnLsn));
      } else {
        throw new ConfigurationException(settings.pipeline() + ": cannot capture TRUNCATE of table " + table.name()
            + " at LSN " + Lsn.format(txnLsn) + ": a truncate has no row changes to record. Set"
            + " .truncates(TruncatePolicy.IGNORE) to skip truncates, or re-snapshot (drop the history position)");
      }
    }
  }

  private ChangeBatchBuilder builder(TableInfo table) {
    TableId id = table.name().tableId();
    ChangeBatchBuilder b = builders.get(id);
    if (b != null && !b.schema().equals(table.schema())) {
      flush(!inTransaction, inTransaction ? txnLsn : lastCommitLsn); // schema changed: hand over what was read before
      b = null;
    }
    if (b == null) {
      b = new ChangeBatchBuilder(context.allocator(), id, table.schema());
      builders.put(id, b);
    }
    return b;
  }

  private void row(ChangeBatchBuilder b, TableInfo table, ChangeKind kind, PgOutputMessage.Tuple tuple,
      PgOutputMessage.Tuple old) {
    if (tuple.size() != table.types().size()) {
      throw new InvalidSourceDataException(settings.pipeline() + ": cannot decode a change of table " + table.name()
          + " at LSN " + Lsn.format(txnLsn) + ": it has " + tuple.size() + " columns, the table " + table.types().size()
          + ". Restart the pipeline");
    }
    b.startRow(kind, txnLsn, txnTimeMicros, txnXid);
    changes++;
    for (int c = 0; c < tuple.size(); c++) {
      byte k = tuple.kinds()[c];
      byte[] v = tuple.values()[c];
      if (k == PgOutputMessage.Tuple.UNCHANGED_TOAST) {
        if (old == null || old.kinds()[c] != PgOutputMessage.Tuple.TEXT) {
          throw new InvalidSourceDataException(settings.pipeline() + ": cannot decode column "
              + table.schema().column(c).name() + " of table " + table.name() + " at LSN " + Lsn.format(txnLsn)
              + ": its value is an unchanged TOAST value and the old row does not carry it (REPLICA IDENTITY is not"
              + " FULL). Run: ALTER TABLE " + table.name().sql() + " REPLICA IDENTITY FULL");
        }
        v = old.values()[c];
        k = PgOutputMessage.Tuple.TEXT;
      }
      if (k == PgOutputMessage.Tuple.TEXT) {
        RowDecoding.set(b, c, table.types().get(c), v, null, table, settings.pipeline(), txnLsn);
      }
    }
  }

  /**
   * Hands every pending builder over as batches ending at {@code endLsn}. At a transaction
   * boundary ({@code complete}) the last is a complete batch; inside a transaction all are partial.
   */
  private void flush(boolean complete, long endLsn) {
    Position pos = Position.of(positionSource, endLsn);
    Iterator<Map.Entry<TableId, ChangeBatchBuilder>> it = builders.entrySet().iterator();
    if (!it.hasNext()) {
      if (complete && openPartialTable != null) {
        ChangeBatchBuilder b = new ChangeBatchBuilder(context.allocator(), openPartialTable.name().tableId(),
            openPartialTable.schema());
        ready.add(b.build(BatchType.CHANGES, false, pos));
        openPartialTable = null;
        lastEmittedEnd = endLsn;
      }
      return;
    }
    while (it.hasNext()) {
      ChangeBatchBuilder b = it.next().getValue();
      it.remove();
      boolean last = !it.hasNext();
      ready.add(complete && last ? b.build(BatchType.CHANGES, false, pos) : b.buildPartialTransaction(pos));
    }
    if (complete) {
      openPartialTable = null;
      lastEmittedEnd = endLsn;
    }
  }

  private Connection plain() {
    if (plain == null) {
      plain = connections.plain();
    }
    return plain;
  }

  @Override
  public void close() {
    for (ChangeBatch b : ready) {
      b.close();
    }
    ready.clear();
    for (ChangeBatchBuilder b : builders.values()) {
      b.close();
    }
    builders.clear();
    for (StreamSpill s : spills.values()) {
      s.close();
    }
    spills.clear();
    try {
      stream.close();
    } catch (SQLException e) {
      LOG.debug("{}: closing the replication stream: {}", settings.pipeline(), e.toString());
    }
    closeQuietly(replicationConnection);
    closeQuietly(plain);
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
