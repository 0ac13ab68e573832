package io.tidesync.delta.sink;

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
import io.delta.kernel.types.BinaryType;
import io.delta.kernel.types.BooleanType;
import io.delta.kernel.types.ByteType;
import io.delta.kernel.types.DataType;
import io.delta.kernel.types.DateType;
import io.delta.kernel.types.DecimalType;
import io.delta.kernel.types.DoubleType;
import io.delta.kernel.types.FloatType;
import io.delta.kernel.types.IntegerType;
import io.delta.kernel.types.LongType;
import io.delta.kernel.types.ShortType;
import io.delta.kernel.types.StringType;
import io.delta.kernel.types.StructType;
import io.delta.kernel.types.TimestampNTZType;
import io.delta.kernel.types.TimestampType;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.FileStatus;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Reads a (plain: no deletion vectors, no column mapping, no partitions) Delta table with Kernel, for assertions. */
final class KernelReader {
  private KernelReader() {}

  static Snapshot snapshot(Engine engine, String path) {
    return TableManager.loadSnapshot(path).build(engine);
  }

  /** Every row as column name -> canonical Java value (timestamps as Instant / LocalDateTime, dates as LocalDate). */
  static List<Map<String, Object>> rows(Engine engine, String path) throws Exception {
    Snapshot s = snapshot(engine, path);
    StructType schema = s.getSchema();
    List<Map<String, Object>> out = new ArrayList<>();
    try (CloseableIterator<FilteredColumnarBatch> files = s.getScanBuilder().build().getScanFiles(engine)) {
      while (files.hasNext()) {
        try (CloseableIterator<Row> rows = files.next().getRows()) {
          while (rows.hasNext()) {
            FileStatus st = InternalScanFileUtils.getAddFileStatus(rows.next());
            try (CloseableIterator<FileReadResult> data = engine.getParquetHandler()
                .readParquetFiles(Utils.singletonCloseableIterator(st), schema, Optional.empty())) {
              while (data.hasNext()) {
                ColumnarBatch b = data.next().getData();
                for (int r = 0; r < b.getSize(); r++) {
                  Map<String, Object> m = new LinkedHashMap<>();
                  for (int c = 0; c < schema.length(); c++) {
                    m.put(schema.at(c).getName(), value(b.getColumnVector(c), r));
                  }
                  out.add(m);
                }
              }
            }
          }
        }
      }
    }
    return out;
  }

  static Object value(ColumnVector v, int r) {
    if (v.isNullAt(r)) {
      return null;
    }
    DataType t = v.getDataType();
    if (t instanceof BooleanType) return v.getBoolean(r);
    if (t instanceof ByteType) return v.getByte(r);
    if (t instanceof ShortType) return v.getShort(r);
    if (t instanceof IntegerType) return v.getInt(r);
    if (t instanceof LongType) return v.getLong(r);
    if (t instanceof FloatType) return v.getFloat(r);
    if (t instanceof DoubleType) return v.getDouble(r);
    if (t instanceof DecimalType) return v.getDecimal(r);
    if (t instanceof StringType) return v.getString(r);
    if (t instanceof BinaryType) return v.getBinary(r);
    if (t instanceof DateType) return LocalDate.ofEpochDay(v.getInt(r));
    if (t instanceof TimestampType) return micros(v.getLong(r));
    if (t instanceof TimestampNTZType) return LocalDateTime.ofInstant(micros(v.getLong(r)), ZoneOffset.UTC);
    throw new IllegalArgumentException("unhandled " + t);
  }

  static Instant micros(long m) {
    return Instant.ofEpochSecond(Math.floorDiv(m, 1_000_000L), Math.floorMod(m, 1_000_000L) * 1000L);
  }

  /** Number of live data files. */
  static long fileCount(Engine engine, String path) throws Exception {
    long n = 0;
    try (CloseableIterator<FilteredColumnarBatch> files = snapshot(engine, path).getScanBuilder().build().getScanFiles(engine)) {
      while (files.hasNext()) {
        try (CloseableIterator<Row> rows = files.next().getRows()) {
          while (rows.hasNext()) {
            rows.next();
            n++;
          }
        }
      }
    }
    return n;
  }
}
