package io.tidesync.delta.source;

import io.delta.kernel.DataWriteContext;
import io.delta.kernel.Operation;
import io.delta.kernel.Scan;
import io.delta.kernel.Snapshot;
import io.delta.kernel.TableManager;
import io.delta.kernel.Transaction;
import io.delta.kernel.TransactionCommitResult;
import io.delta.kernel.data.ColumnVector;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.data.Row;
import io.delta.kernel.defaults.internal.data.DefaultColumnarBatch;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.expressions.Column;
import io.delta.kernel.expressions.Literal;
import io.delta.kernel.hook.PostCommitHook;
import io.delta.kernel.internal.InternalScanFileUtils;
import io.delta.kernel.internal.actions.RemoveFile;
import io.delta.kernel.internal.actions.SingleAction;
import io.delta.kernel.internal.data.GenericRow;
import io.delta.kernel.internal.util.Utils;
import io.delta.kernel.internal.util.VectorUtils;
import io.delta.kernel.transaction.DataLayoutSpec;
import io.delta.kernel.types.StructType;
import io.delta.kernel.utils.CloseableIterable;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.DataFileStatus;
import io.tidesync.delta.source.internal.KernelTable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Writes small Delta tables with Kernel for tests: create, append, remove files, set properties. */
final class KernelTables {
  static final Engine ENGINE = KernelTable.defaultEngine(Map.of());
  private static final String ENGINE_INFO = "tidesync-tests";

  private KernelTables() {}

  static long create(Path dir, StructType schema, Map<String, String> properties, List<String> partitionColumns) {
    var b = TableManager.buildCreateTableTransaction(dir.toString(), schema, ENGINE_INFO).withTableProperties(properties);
    if (!partitionColumns.isEmpty()) {
      List<Column> cols = new ArrayList<>();
      partitionColumns.forEach(c -> cols.add(new Column(c)));
      b = b.withDataLayoutSpec(DataLayoutSpec.partitioned(cols));
    }
    return commit(b.build(ENGINE), CloseableIterable.emptyIterable());
  }

  static long createWithCdf(Path dir, StructType schema) {
    return create(dir, schema, Map.of("delta.enableChangeDataFeed", "true"), List.of());
  }

  /** Appends rows (one Object[] per row, schema order) as one file in one commit. */
  static long append(Path dir, List<Object[]> rows) {
    return append(dir, rows, Map.of());
  }

  static long append(Path dir, List<Object[]> rows, Map<String, Literal> partitionValues) {
    Snapshot snap = TableManager.loadSnapshot(dir.toString()).build(ENGINE);
    StructType schema = snap.getSchema();
    Transaction txn = snap.buildUpdateTableTransaction(ENGINE_INFO, Operation.WRITE).build(ENGINE);
    Row state = txn.getTransactionState(ENGINE);
    List<Integer> dataCols = new ArrayList<>();
    StructType dataSchema = new StructType();
    for (int c = 0; c < schema.length(); c++) {
      dataCols.add(c);
      dataSchema = dataSchema.add(schema.at(c));
    }
    ColumnVector[] vectors = new ColumnVector[dataCols.size()];
    for (int i = 0; i < dataCols.size(); i++) {
      List<Object> values = new ArrayList<>();
      for (Object[] r : rows) {
        values.add(r[dataCols.get(i)]);
      }
      vectors[i] = VectorUtils.buildColumnVector(values, dataSchema.at(i).getDataType());
    }
    DefaultColumnarBatch batch = new DefaultColumnarBatch(rows.size(), dataSchema, vectors);
    try {
      CloseableIterator<FilteredColumnarBatch> physical = Transaction.transformLogicalData(ENGINE, state,
          Utils.singletonCloseableIterator(new FilteredColumnarBatch(batch, Optional.empty())), partitionValues);
      DataWriteContext ctx = Transaction.getWriteContext(ENGINE, state, partitionValues);
      CloseableIterator<DataFileStatus> files = ENGINE.getParquetHandler()
          .writeParquetFiles(ctx.getTargetDirectory(), physical, ctx.getStatisticsColumns());
      CloseableIterator<Row> actions = Transaction.generateAppendActions(ENGINE, state, files, ctx);
      return commit(txn, CloseableIterable.inMemoryIterable(actions));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Commits a remove (dataChange=true) of every live file whose path contains {@code fragment} (or all if null). */
  static long removeFiles(Path dir, String fragment) {
    Snapshot snap = TableManager.loadSnapshot(dir.toString()).build(ENGINE);
    List<Row> removes = new ArrayList<>();
    Scan scan = snap.getScanBuilder().build();
    try (CloseableIterator<FilteredColumnarBatch> files = scan.getScanFiles(ENGINE)) {
      while (files.hasNext()) {
        try (CloseableIterator<Row> rows = files.next().getRows()) {
          while (rows.hasNext()) {
            Row scanFile = rows.next();
            String path = InternalScanFileUtils.getFilePath(scanFile);
            if (fragment != null && !path.contains(fragment)) {
              continue;
            }
            Map<Integer, Object> m = new HashMap<>();
            StructType rs = RemoveFile.FULL_SCHEMA;
            m.put(rs.indexOf("path"), path);
            m.put(rs.indexOf("deletionTimestamp"), System.currentTimeMillis());
            m.put(rs.indexOf("dataChange"), true);
            m.put(rs.indexOf("extendedFileMetadata"), true);
            m.put(rs.indexOf("partitionValues"), VectorUtils.stringStringMapValue(InternalScanFileUtils.getPartitionValues(scanFile)));
            m.put(rs.indexOf("size"), InternalScanFileUtils.getAddFileStatus(scanFile).getSize());
            removes.add(SingleAction.createRemoveFileSingleAction(new GenericRow(rs, m)));
          }
        }
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    Transaction txn = snap.buildUpdateTableTransaction(ENGINE_INFO, Operation.WRITE).build(ENGINE);
    return commit(txn, CloseableIterable.inMemoryIterable(Utils.toCloseableIterator(removes.iterator())));
  }

  static long setProperties(Path dir, Map<String, String> props) {
    Snapshot snap = TableManager.loadSnapshot(dir.toString()).build(ENGINE);
    Transaction txn = snap.buildUpdateTableTransaction(ENGINE_INFO, Operation.MANUAL_UPDATE)
        .withTablePropertiesAdded(props).build(ENGINE);
    return commit(txn, CloseableIterable.emptyIterable());
  }

  static void checkpoint(Path dir) {
    try {
      TableManager.loadSnapshot(dir.toString()).build(ENGINE).writeCheckpoint(ENGINE);
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  private static long commit(Transaction txn, CloseableIterable<Row> actions) {
    TransactionCommitResult r = txn.commit(ENGINE, actions);
    for (PostCommitHook h : r.getPostCommitHooks()) {
      try {
        h.threadSafeInvoke(ENGINE);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    return r.getVersion();
  }
}
