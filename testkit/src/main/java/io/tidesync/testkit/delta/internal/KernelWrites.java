package io.tidesync.testkit.delta.internal;

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
import io.delta.kernel.defaults.engine.DefaultEngine;
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
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The one place that writes Delta tables with Kernel for tests and benchmarks: create, append
 * (one Parquet file per chunk of rows, all chunks in one commit), remove files, set properties,
 * checkpoint. Rows are {@code Object[]} in table-schema order holding Kernel's Java values (Integer
 * days for DATE, Long microseconds for TIMESTAMP and TIMESTAMP_NTZ, BigDecimal, byte[], String,
 * boxed primitives, {@link GenericRow} for structs).
 *
 * <p>Not API: {@link io.tidesync.testkit.delta.DeltaTableWriter} is the public face, with
 * Tidesync's schema and canonical values; Kernel-typed tests (nested types) may call this
 * directly. Thread safe (stateless), but concurrent writers to one table conflict.
 */
public final class KernelWrites {
  private static final String ENGINE_INFO = "tidesync-testkit";

  private KernelWrites() {}

  /** A default engine for local paths (RawLocalFileSystem: no {@code .crc} sidecars). */
  public static Engine defaultEngine() {
    org.apache.hadoop.conf.Configuration hc = new org.apache.hadoop.conf.Configuration();
    hc.set("fs.file.impl", "org.apache.hadoop.fs.RawLocalFileSystem");
    hc.setBoolean("fs.file.impl.disable.cache", true);
    return DefaultEngine.create(hc);
  }

  /** Creates the table (version 0). */
  public static long create(Engine engine, Path dir, StructType schema, Map<String, String> properties,
      List<String> partitionColumns) {
    var b = TableManager.buildCreateTableTransaction(dir.toString(), schema, ENGINE_INFO).withTableProperties(properties);
    if (!partitionColumns.isEmpty()) {
      List<Column> cols = new ArrayList<>();
      partitionColumns.forEach(c -> cols.add(new Column(c)));
      b = b.withDataLayoutSpec(DataLayoutSpec.partitioned(cols));
    }
    return commit(engine, b.build(engine), CloseableIterable.emptyIterable());
  }

  /** The table's schema at its latest version. */
  public static StructType schema(Engine engine, Path dir) {
    return TableManager.loadSnapshot(dir.toString()).build(engine).getSchema();
  }

  /** The latest version. */
  public static long latestVersion(Engine engine, Path dir) {
    return TableManager.loadSnapshot(dir.toString()).build(engine).getVersion();
  }

  /** One file's worth of rows of one partition. */
  public record Chunk(List<Object[]> rows, Map<String, Literal> partitionValues) {}

  /**
   * Appends in one commit: each chunk the source hands out becomes one Parquet file, written
   * before the next chunk is asked for, so memory holds one chunk at a time.
   *
   * @param chunks hands out chunks until it returns null
   */
  public static long append(Engine engine, Path dir, java.util.function.Supplier<Chunk> chunks) {
    Snapshot snap = TableManager.loadSnapshot(dir.toString()).build(engine);
    StructType schema = snap.getSchema();
    Transaction txn = snap.buildUpdateTableTransaction(ENGINE_INFO, Operation.WRITE).build(engine);
    Row state = txn.getTransactionState(engine);
    List<Row> actions = new ArrayList<>();
    for (Chunk chunk = chunks.get(); chunk != null; chunk = chunks.get()) {
      if (chunk.rows().isEmpty()) {
        continue;
      }
      DefaultColumnarBatch batch = toBatch(schema, chunk.rows());
      try (CloseableIterator<FilteredColumnarBatch> physical = Transaction.transformLogicalData(engine, state,
          Utils.singletonCloseableIterator(new FilteredColumnarBatch(batch, Optional.empty())), chunk.partitionValues())) {
        DataWriteContext ctx = Transaction.getWriteContext(engine, state, chunk.partitionValues());
        CloseableIterator<DataFileStatus> files = engine.getParquetHandler()
            .writeParquetFiles(ctx.getTargetDirectory(), physical, ctx.getStatisticsColumns());
        try (CloseableIterator<Row> a = Transaction.generateAppendActions(engine, state, files, ctx)) {
          while (a.hasNext()) {
            actions.add(a.next());
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(dir + ": cannot write a data file", e);
      }
    }
    return commit(engine, txn, CloseableIterable.inMemoryIterable(Utils.toCloseableIterator(actions.iterator())));
  }

  private static DefaultColumnarBatch toBatch(StructType schema, List<Object[]> rows) {
    ColumnVector[] vectors = new ColumnVector[schema.length()];
    List<Object> values = new ArrayList<>(rows.size());
    for (int c = 0; c < schema.length(); c++) {
      values.clear();
      for (Object[] r : rows) {
        values.add(r[c]);
      }
      vectors[c] = VectorUtils.buildColumnVector(new ArrayList<>(values), schema.at(c).getDataType());
    }
    return new DefaultColumnarBatch(rows.size(), schema, vectors);
  }

  /** The paths (relative to the table, as the log has them) of the live data files. */
  public static List<String> dataFiles(Engine engine, Path dir) {
    List<String> out = new ArrayList<>();
    forEachScanFile(engine, TableManager.loadSnapshot(dir.toString()).build(engine), f -> out.add(relative(dir,
        InternalScanFileUtils.getFilePath(f))));
    return out;
  }

  /**
   * Commits a remove (dataChange=true) of every live file whose path contains {@code fragment}
   * (every file when null): their rows are deleted.
   */
  public static long removeFiles(Engine engine, Path dir, String fragment) {
    Snapshot snap = TableManager.loadSnapshot(dir.toString()).build(engine);
    List<Row> removes = new ArrayList<>();
    forEachScanFile(engine, snap, scanFile -> {
      String path = InternalScanFileUtils.getFilePath(scanFile);
      if (fragment != null && !path.contains(fragment)) {
        return;
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
    });
    Transaction txn = snap.buildUpdateTableTransaction(ENGINE_INFO, Operation.WRITE).build(engine);
    return commit(engine, txn, CloseableIterable.inMemoryIterable(Utils.toCloseableIterator(removes.iterator())));
  }

  private static void forEachScanFile(Engine engine, Snapshot snap, java.util.function.Consumer<Row> action) {
    Scan scan = snap.getScanBuilder().build();
    try (CloseableIterator<FilteredColumnarBatch> files = scan.getScanFiles(engine)) {
      while (files.hasNext()) {
        try (CloseableIterator<Row> rows = files.next().getRows()) {
          while (rows.hasNext()) {
            action.accept(rows.next());
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String relative(Path dir, String path) {
    String root = dir.toUri().toString();
    String p = path;
    if (p.startsWith("file:") && !p.startsWith("file://")) {
      p = "file://" + p.substring("file:".length());
    }
    if (p.startsWith(root)) {
      return p.substring(root.length());
    }
    int i = path.lastIndexOf(dir.getFileName().toString() + "/");
    return i < 0 ? path : path.substring(i + dir.getFileName().toString().length() + 1);
  }

  /** Adds or changes table properties in a commit without data. */
  public static long setProperties(Engine engine, Path dir, Map<String, String> props) {
    Snapshot snap = TableManager.loadSnapshot(dir.toString()).build(engine);
    Transaction txn = snap.buildUpdateTableTransaction(ENGINE_INFO, Operation.MANUAL_UPDATE)
        .withTablePropertiesAdded(props).build(engine);
    return commit(engine, txn, CloseableIterable.emptyIterable());
  }

  /** Writes a checkpoint at the latest version. */
  public static void checkpoint(Engine engine, Path dir) {
    try {
      TableManager.loadSnapshot(dir.toString()).build(engine).writeCheckpoint(engine);
    } catch (IOException e) {
      throw new UncheckedIOException(dir + ": cannot write a checkpoint", e);
    } catch (Exception e) {
      throw new IllegalStateException(dir + ": cannot write a checkpoint: " + e.getMessage(), e);
    }
  }

  private static long commit(Engine engine, Transaction txn, CloseableIterable<Row> actions) {
    TransactionCommitResult r = txn.commit(engine, actions);
    for (PostCommitHook h : r.getPostCommitHooks()) {
      try {
        h.threadSafeInvoke(engine);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return r.getVersion();
  }
}
