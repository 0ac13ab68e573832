package io.tidesync.bench;

import io.delta.kernel.Snapshot;
import io.delta.kernel.TableManager;
import io.delta.kernel.data.ColumnVector;
import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.data.Row;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.engine.FileReadResult;
import io.delta.kernel.internal.InternalScanFileUtils;
import io.delta.kernel.internal.util.Utils;
import io.delta.kernel.types.StructType;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.FileStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;

/** Reads Tidesync's Delta history tables back with Kernel, for the capture scenarios' checks. */
final class HistoryTables {
  static final Engine ENGINE = io.tidesync.testkit.delta.DeltaTableWriter.localEngine();

  private HistoryTables() {}

  /** Row counts by {@code _change_type}. */
  static TreeMap<String, Long> countByChangeType(String path) throws Exception {
    TreeMap<String, Long> out = new TreeMap<>();
    scan(path, List.of("_change_type"), b -> {
      ColumnVector v = b.getColumnVector(0);
      for (int r = 0; r < b.getSize(); r++) {
        out.merge(v.getString(r), 1L, Long::sum);
      }
    });
    return out;
  }

  /** Reads the named columns of every live file of the table's latest snapshot. */
  static void scan(String path, List<String> columns, Consumer<ColumnarBatch> each) throws Exception {
    Snapshot s = TableManager.loadSnapshot(path).build(ENGINE);
    StructType full = s.getSchema();
    StructType read = new StructType();
    for (String c : columns) {
      read = read.add(full.get(c));
    }
    List<FileStatus> files = new ArrayList<>();
    try (CloseableIterator<FilteredColumnarBatch> it = s.getScanBuilder().build().getScanFiles(ENGINE)) {
      while (it.hasNext()) {
        try (CloseableIterator<Row> rows = it.next().getRows()) {
          while (rows.hasNext()) {
            files.add(InternalScanFileUtils.getAddFileStatus(rows.next()));
          }
        }
      }
    }
    for (FileStatus f : files) {
      readFile(f, read, each);
    }
  }

  /** Reads one Parquet file's columns. */
  static void readFile(FileStatus f, StructType read, Consumer<ColumnarBatch> each) throws Exception {
    try (CloseableIterator<FileReadResult> data = ENGINE.getParquetHandler()
        .readParquetFiles(Utils.singletonCloseableIterator(f), read, Optional.empty())) {
      while (data.hasNext()) {
        each.accept(data.next().getData());
      }
    }
  }
}
