package io.tidesync.delta.sink.internal;

import io.delta.kernel.DataWriteContext;
import io.delta.kernel.Operation;
import io.delta.kernel.Scan;
import io.delta.kernel.Snapshot;
import io.delta.kernel.TableManager;
import io.delta.kernel.Transaction;
import io.delta.kernel.TransactionCommitResult;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.data.Row;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.exceptions.TableAlreadyExistsException;
import io.delta.kernel.exceptions.TableNotFoundException;
import io.delta.kernel.hook.PostCommitHook;
import io.delta.kernel.internal.InternalScanFileUtils;
import io.delta.kernel.internal.actions.RemoveFile;
import io.delta.kernel.internal.actions.SingleAction;
import io.delta.kernel.internal.data.GenericRow;
import io.delta.kernel.internal.util.Utils;
import io.delta.kernel.internal.util.VectorUtils;
import io.delta.kernel.types.StructField;
import io.delta.kernel.types.StructType;
import io.delta.kernel.utils.CloseableIterable;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.DataFileStatus;
import io.tidesync.SchemaMismatchException;
import io.tidesync.delta.sink.HistoryNaming;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.TableSchema;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadFactory;
import java.util.Optional;

/**
 * One history table, behind Delta Kernel: creation, the pipeline's transaction version, and
 * {@link Pending} commits that collect the Parquet files of one source transaction (or one table's
 * snapshot). Every Kernel write call of the module is made here. Used by the applier's thread.
 */
final class HistoryTable {
  private final ThreadFactory threads;
  static final String ENGINE_INFO = "tidesync-delta-sink";

  private final Engine engine;
  private final String path;
  private final String appId;
  private final HistoryNaming naming;
  private Snapshot snapshot;
  private StructType schema;

  private HistoryTable(Engine engine, String path, String appId, HistoryNaming naming, Snapshot snapshot,
      ThreadFactory threads) {
    this.threads = threads;
    this.engine = engine;
    this.path = path;
    this.appId = appId;
    this.naming = naming;
    this.snapshot = snapshot;
    this.schema = snapshot == null ? null : snapshot.getSchema();
  }

  /** The table at {@code path}, loaded if it exists. */
  static HistoryTable load(Engine engine, String path, String appId, HistoryNaming naming, ThreadFactory threads) {
    return new HistoryTable(engine, path, appId, naming, loadSnapshot(engine, path), threads);
  }

  static Snapshot loadSnapshot(Engine engine, String path) {
    try {
      return TableManager.loadSnapshot(path).build(engine);
    } catch (TableNotFoundException e) {
      return null;
    }
  }

  String path() {
    return path;
  }

  boolean exists() {
    return snapshot != null;
  }

  /** The commit LSN of the last source transaction this pipeline committed here, if any. */
  Optional<Long> committedLsn() {
    return snapshot == null ? Optional.empty() : snapshot.getLatestTransactionVersion(engine, appId);
  }

  /**
   * Creates the table from the batch's schema when missing, otherwise checks that the batch's
   * columns match the table's.
   *
   * @throws io.tidesync.ConfigurationException for a column name Delta cannot store
   * @throws SchemaMismatchException when the batch's columns differ from the table's
   */
  void prepare(TableSchema source) {
    StructType wanted = KernelSchemas.historySchema(path, source, naming);
    if (snapshot == null) {
      try {
        Transaction create = TableManager.buildCreateTableTransaction(path, wanted, ENGINE_INFO).build(engine);
        commitAndHooks(create, CloseableIterable.emptyIterable());
      } catch (TableAlreadyExistsException e) {
        // another writer created it between our look and our create: use theirs
      }
      snapshot = TableManager.loadSnapshot(path).build(engine);
      schema = snapshot.getSchema();
    }
    if (!schema.equals(wanted)) {
      throw mismatch(wanted);
    }
  }

  private SchemaMismatchException mismatch(StructType wanted) {
    Map<String, StructField> have = new HashMap<>();
    for (StructField f : schema.fields()) {
      have.put(f.getName(), f);
    }
    String what = null;
    for (StructField f : wanted.fields()) {
      StructField h = have.remove(f.getName());
      if (h == null) {
        what = "the source has a new column '" + f.getName() + "' (" + f.getDataType() + ") the history table lacks";
        break;
      } else if (!h.getDataType().equals(f.getDataType())) {
        what = "column '" + f.getName() + "' is " + f.getDataType() + " in the source but " + h.getDataType()
            + " in the history table";
        break;
      }
    }
    if (what == null && !have.isEmpty()) {
      what = "the history table has column '" + have.keySet().iterator().next() + "' the source no longer has";
    }
    if (what == null) {
      what = "the column order or metadata columns differ (" + schema.fieldNames() + " vs " + wanted.fieldNames() + ")";
    }
    return new SchemaMismatchException(path + ": cannot append to the history table: " + what
        + ". Delta Kernel cannot change a history table's schema: move the table aside (or add the column with"
        + " Spark: ALTER TABLE ... ADD COLUMNS) and restart the pipeline");
  }

  /** Starts a Delta transaction carrying {@code (appId, lsn)}; with {@code replace}, its commit also removes every current file. */
  Pending begin(long lsn, boolean replace) {
    Transaction txn = snapshot.buildUpdateTableTransaction(ENGINE_INFO, Operation.WRITE)
        .withTransactionId(appId, lsn).build(engine);
    return new Pending(txn, lsn, replace);
  }

  /** Returns the post-commit snapshot version. */
  private long commitAndHooks(Transaction txn, CloseableIterable<Row> actions) {
    TransactionCommitResult r = txn.commit(engine, actions);
    for (PostCommitHook h : r.getPostCommitHooks()) {
      try {
        h.threadSafeInvoke(engine);
      } catch (IOException | RuntimeException e) {
        // a missed checkpoint or checksum is not an error: the next commit's hook writes one
        org.slf4j.LoggerFactory.getLogger(HistoryTable.class).warn("{}: post-commit hook {} failed: {}", path,
            h.getType(), e.toString());
      }
    }
    snapshot = r.getPostCommitSnapshot().orElse(null);
    if (snapshot == null) {
      snapshot = TableManager.loadSnapshot(path).build(engine);
    }
    return r.getVersion();
  }

  /** The files of one Delta commit being written; committed with {@link #commit()}. */
  final class Pending implements AutoCloseable {
    private final Transaction txn;
    private final Row state;
    private final DataWriteContext ctx;
    private final long lsn;
    private final boolean replace;
    private final List<DataFileStatus> files = new ArrayList<>();
    private StreamingFileWriter writer;
    private long rows;
    private long seqLsn = Long.MIN_VALUE;
    private long nextSeq;

    private Pending(Transaction txn, long lsn, boolean replace) {
      this.txn = txn;
      this.state = txn.getTransactionState(engine);
      this.ctx = Transaction.getWriteContext(engine, state, Map.of());
      this.lsn = lsn;
      this.replace = replace;
    }

    long lsn() {
      return lsn;
    }

    long rows() {
      return rows;
    }

    String path() {
      return path;
    }

    /**
     * Writes the batch's rows to Parquet. A batch that is the whole commit is written on this
     * thread; otherwise rows stream into files that stay open for the next batches.
     */
    /** Writes the batch's rows from {@code fromRow} on (the ones before are already committed). */
    void write(ChangeBatch batch, int fromRow, boolean wholeCommit) throws Exception {
      if (batch.rowCount() - fromRow <= 0) {
        return;
      }
      // position of each change within its transaction: rows arrive in WAL order, a transaction's
      // rows may span several (partial) batches of this pending unit
      long[] sequence = new long[batch.rowCount()];
      for (int r = fromRow; r < batch.rowCount(); r++) {
        long lsnOfRow = batch.commitVersion(r);
        if (lsnOfRow != seqLsn) {
          seqLsn = lsnOfRow;
          nextSeq = 0;
        }
        sequence[r] = nextSeq++;
      }
      ArrowColumnarBatch data = new ArrowColumnarBatch(batch, schema, naming, fromRow, sequence);
      rows += batch.rowCount() - fromRow;
      if (wholeCommit && writer == null) {
        try (CloseableIterator<DataFileStatus> out = engine.getParquetHandler().writeParquetFiles(
            ctx.getTargetDirectory(), Transaction.transformLogicalData(engine, state,
                Utils.singletonCloseableIterator(new FilteredColumnarBatch(data, Optional.empty())), Map.of()),
            ctx.getStatisticsColumns())) {
          while (out.hasNext()) {
            files.add(out.next());
          }
        }
        return;
      }
      if (writer == null) {
        writer = new StreamingFileWriter(engine, state, ctx, threads);
      }
      writer.write(data);
    }

    /** Closes open files (if any): after this every row written so far is in a finished file. */
    void finishFiles() throws Exception {
      if (writer != null) {
        files.addAll(writer.finish());
        writer = null;
      }
    }

    int fileCount() {
      return files.size();
    }

    /** Commits every file written (and the removes of a replace) with the transaction id; returns the table version. */
    long commit() throws Exception {
      finishFiles();
      List<Row> actions = new ArrayList<>();
      if (replace) {
        removeAll(actions);
      }
      try (CloseableIterator<Row> adds = Transaction.generateAppendActions(engine, state,
          Utils.toCloseableIterator(files.iterator()), ctx)) {
        while (adds.hasNext()) {
          actions.add(adds.next());
        }
      }
      return commitAndHooks(txn, CloseableIterable.inMemoryIterable(Utils.toCloseableIterator(actions.iterator())));
    }

    private void removeAll(List<Row> out) throws IOException {
      Scan scan = snapshot.getScanBuilder().build();
      try (CloseableIterator<FilteredColumnarBatch> scanFiles = scan.getScanFiles(engine)) {
        while (scanFiles.hasNext()) {
          try (CloseableIterator<Row> rowsIt = scanFiles.next().getRows()) {
            while (rowsIt.hasNext()) {
              Row f = rowsIt.next();
              StructType rs = RemoveFile.FULL_SCHEMA;
              Map<Integer, Object> m = new HashMap<>();
              m.put(rs.indexOf("path"), InternalScanFileUtils.getFilePath(f));
              m.put(rs.indexOf("deletionTimestamp"), System.currentTimeMillis());
              m.put(rs.indexOf("dataChange"), true);
              m.put(rs.indexOf("extendedFileMetadata"), true);
              m.put(rs.indexOf("partitionValues"), VectorUtils.stringStringMapValue(InternalScanFileUtils.getPartitionValues(f)));
              m.put(rs.indexOf("size"), InternalScanFileUtils.getAddFileStatus(f).getSize());
              out.add(SingleAction.createRemoveFileSingleAction(new GenericRow(rs, m)));
            }
          }
        }
      }
    }

    /** Abandons the commit: stops the writer thread; files written stay unreferenced. */
    @Override
    public void close() {
      if (writer != null) {
        writer.close();
        writer = null;
      }
    }
  }
}
