package io.tidesync.testkit.delta;

import io.delta.kernel.engine.Engine;
import io.delta.kernel.expressions.Literal;
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
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.TableSchema;
import io.tidesync.testkit.delta.internal.KernelWrites;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Writes local Delta tables for tests and benchmarks, with Delta Kernel behind it: create a table
 * from a Tidesync {@link TableSchema}, append rows of canonical values, remove data files.
 *
 * <pre>{@code
 * TableSchema schema = TableSchema.of(List.of(
 *     new Column("id", LogicalType.of(LogicalType.Kind.INT64), false),
 *     Column.of("name", LogicalType.of(LogicalType.Kind.STRING))));
 * DeltaTableWriter w = DeltaTableWriter.create(dir, schema, Map.of("delta.enableChangeDataFeed", "true"), List.of());
 * long v1 = w.append(List.of(Map.of("id", 1L, "name", "a")));          // one file, one commit
 * long v2 = w.append(rowsIterator, 100_000);                             // 1M+ rows: a file per 100k rows
 * long v3 = w.removeFiles(w.dataFiles().get(0));                         // deletes that file's rows
 * }</pre>
 *
 * <p>Values are the canonical Java values of {@link LogicalType.Kind} (Boolean, Byte, Short,
 * Integer, Long, Float, Double, BigDecimal, String, byte[], LocalDate, Instant for TIMESTAMP_TZ,
 * LocalDateTime for TIMESTAMP_NTZ); integral kinds accept any {@link Number}. JSON (nested) columns
 * are not supported. The logical types map to Delta types as the Delta source reads them back
 * (TIMESTAMP_TZ {@code timestamp}, TIMESTAMP_NTZ {@code timestamp_ntz}, DECIMAL {@code decimal(p,s)}).
 *
 * <p>Each append or remove is one Delta commit and returns its version. Kernel cannot write
 * {@code cdc} files, so a CDF reader infers inserts from added files and deletes from removed
 * ones. Callers need Delta Kernel on the class path (tidesync-delta-source brings it). Not thread
 * safe; one writer per table. Errors are unchecked: {@link IllegalArgumentException} for values
 * that do not fit the schema, {@link java.io.UncheckedIOException} or Kernel's own exceptions for
 * I/O and log conflicts.
 */
public final class DeltaTableWriter {
  private final Path dir;
  private final TableSchema schema;
  private final List<String> partitionColumns;
  private final Engine engine;

  private DeltaTableWriter(Path dir, TableSchema schema, List<String> partitionColumns, Engine engine) {
    this.dir = dir;
    this.schema = schema;
    this.partitionColumns = List.copyOf(partitionColumns);
    this.engine = engine;
  }

  /**
   * A Delta Kernel engine for tables on the local file system (no {@code .crc} sidecar checks),
   * for tests that read tables back with Kernel.
   */
  public static Engine localEngine() {
    return KernelWrites.defaultEngine();
  }

  /**
   * Creates a table at {@code dir} (version 0, no rows).
   *
   * @param properties table properties such as {@code delta.enableChangeDataFeed=true}
   * @param partitionColumns partition column names, or an empty list
   * @throws IllegalArgumentException for a JSON column or an unknown partition column
   */
  public static DeltaTableWriter create(Path dir, TableSchema schema, Map<String, String> properties,
      List<String> partitionColumns) {
    Objects.requireNonNull(dir, "dir");
    for (String p : partitionColumns) {
      if (schema.indexOf(p) < 0) {
        throw new IllegalArgumentException(dir + ": cannot create the table: partition column '" + p
            + "' is not a column of " + schema.names() + ". Name one of its columns");
      }
    }
    Engine engine = KernelWrites.defaultEngine();
    KernelWrites.create(engine, dir, toStructType(schema), properties, partitionColumns);
    return new DeltaTableWriter(dir, schema, partitionColumns, engine);
  }

  /** A table with the change data feed on and no partitions. */
  public static DeltaTableWriter createWithChangeDataFeed(Path dir, TableSchema schema) {
    return create(dir, schema, Map.of("delta.enableChangeDataFeed", "true"), List.of());
  }

  public Path path() {
    return dir;
  }

  public TableSchema schema() {
    return schema;
  }

  /** The latest version of the table's log. */
  public long latestVersion() {
    return KernelWrites.latestVersion(engine, dir);
  }

  /**
   * Appends rows in one commit: one file per partition value. Missing map entries are nulls.
   *
   * @return the commit's version
   */
  public long append(List<Map<String, Object>> rows) {
    List<Object[]> arrays = new ArrayList<>(rows.size());
    for (Map<String, Object> row : rows) {
      Object[] a = new Object[schema.size()];
      for (Map.Entry<String, Object> e : row.entrySet()) {
        int c = schema.indexOf(e.getKey());
        if (c < 0) {
          throw new IllegalArgumentException(dir + ": cannot append a row: '" + e.getKey() + "' is not a column of "
              + schema.names() + ". Use the schema's column names");
        }
        a[c] = e.getValue();
      }
      arrays.add(a);
    }
    return append(arrays.iterator(), Math.max(1, rows.size()));
  }

  /**
   * Appends a stream of rows in one commit, writing a file every {@code rowsPerFile} rows (per
   * partition value), so memory holds about one file's rows whatever the stream's length.
   *
   * @param rows values in schema order (the iterator may reuse nothing: each array is kept until its file is written)
   * @return the commit's version
   */
  public long append(Iterator<Object[]> rows, int rowsPerFile) {
    if (rowsPerFile < 1) {
      throw new IllegalArgumentException("rowsPerFile is " + rowsPerFile + ": give 1 or more");
    }
    int[] partIdx = partitionColumns.stream().mapToInt(schema::indexOf).toArray();
    java.util.ArrayDeque<KernelWrites.Chunk> ready = new java.util.ArrayDeque<>();
    return KernelWrites.append(engine, dir, () -> {
      if (ready.isEmpty()) {
        Map<List<Object>, List<Object[]>> groups = new LinkedHashMap<>();
        int n = 0;
        while (n < rowsPerFile && rows.hasNext()) {
          Object[] row = rows.next();
          if (row.length != schema.size()) {
            throw new IllegalArgumentException(dir + ": cannot append a row of " + row.length + " values to a table of "
                + schema.size() + " columns. Give one value per column, in schema order");
          }
          Object[] kernel = new Object[row.length];
          for (int c = 0; c < row.length; c++) {
            kernel[c] = toKernel(schema.column(c), row[c]);
          }
          List<Object> part = new ArrayList<>(partIdx.length);
          for (int p : partIdx) {
            part.add(row[p]);
          }
          groups.computeIfAbsent(part, k -> new ArrayList<>()).add(kernel);
          n++;
        }
        for (Map.Entry<List<Object>, List<Object[]>> g : groups.entrySet()) {
          Map<String, Literal> values = new LinkedHashMap<>();
          for (int i = 0; i < partIdx.length; i++) {
            values.put(partitionColumns.get(i), literal(schema.column(partIdx[i]), g.getKey().get(i)));
          }
          ready.add(new KernelWrites.Chunk(g.getValue(), values));
        }
      }
      return ready.poll();
    });
  }

  /** The live data files, as paths relative to the table directory. */
  public List<String> dataFiles() {
    return KernelWrites.dataFiles(engine, dir);
  }

  /**
   * Removes (with {@code dataChange=true}) every live data file whose path contains
   * {@code pathFragment}, in one commit: their rows are deleted.
   *
   * @return the commit's version
   */
  public long removeFiles(String pathFragment) {
    return KernelWrites.removeFiles(engine, dir, Objects.requireNonNull(pathFragment, "pathFragment"));
  }

  /** Removes every live data file: deletes all rows, in one commit. */
  public long removeAllFiles() {
    return KernelWrites.removeFiles(engine, dir, null);
  }

  /** Adds or changes table properties, in a commit without data. */
  public long setProperties(Map<String, String> properties) {
    return KernelWrites.setProperties(engine, dir, properties);
  }

  /** Writes a checkpoint at the latest version. */
  public void checkpoint() {
    KernelWrites.checkpoint(engine, dir);
  }

  // ---------------------------------------------------------------- conversions

  static StructType toStructType(TableSchema schema) {
    StructType s = new StructType();
    for (Column c : schema.columns()) {
      s = s.add(c.name(), deltaType(c), c.nullable());
    }
    return s;
  }

  private static DataType deltaType(Column c) {
    LogicalType t = c.type();
    return switch (t.kind()) {
      case BOOLEAN -> BooleanType.BOOLEAN;
      case INT8 -> ByteType.BYTE;
      case INT16 -> ShortType.SHORT;
      case INT32 -> IntegerType.INTEGER;
      case INT64 -> LongType.LONG;
      case FLOAT32 -> FloatType.FLOAT;
      case FLOAT64 -> DoubleType.DOUBLE;
      case DECIMAL -> new DecimalType(t.precision(), t.scale());
      case STRING -> StringType.STRING;
      case BINARY -> BinaryType.BINARY;
      case DATE -> DateType.DATE;
      case TIMESTAMP_TZ -> TimestampType.TIMESTAMP;
      case TIMESTAMP_NTZ -> TimestampNTZType.TIMESTAMP_NTZ;
      case JSON -> throw new IllegalArgumentException("column '" + c.name() + "' is of type " + t
          + ": DeltaTableWriter cannot write nested (JSON) columns. Use KernelWrites with a Kernel schema");
    };
  }

  private static Object toKernel(Column c, Object v) {
    if (v == null) {
      if (!c.nullable()) {
        throw new IllegalArgumentException("column '" + c.name() + "' is not nullable but the row has null");
      }
      return null;
    }
    LogicalType t = c.type();
    try {
      return switch (t.kind()) {
        case BOOLEAN -> (Boolean) v;
        case INT8 -> ((Number) v).byteValue();
        case INT16 -> ((Number) v).shortValue();
        case INT32 -> ((Number) v).intValue();
        case INT64 -> ((Number) v).longValue();
        case FLOAT32 -> ((Number) v).floatValue();
        case FLOAT64 -> ((Number) v).doubleValue();
        case DECIMAL -> ((BigDecimal) v).setScale(t.scale(), RoundingMode.UNNECESSARY);
        case STRING -> (String) v;
        case BINARY -> Arrays.copyOf((byte[]) v, ((byte[]) v).length);
        case DATE -> Math.toIntExact(((LocalDate) v).toEpochDay());
        case TIMESTAMP_TZ -> ChangeBatchBuilder.instantToMicros((Instant) v);
        case TIMESTAMP_NTZ -> ChangeBatchBuilder.instantToMicros(((LocalDateTime) v).toInstant(ZoneOffset.UTC));
        case JSON -> throw new IllegalArgumentException("nested (JSON) columns are not supported");
      };
    } catch (ClassCastException | ArithmeticException e) {
      throw new IllegalArgumentException("column '" + c.name() + "' of type " + t + " cannot hold "
          + v.getClass().getSimpleName() + " value " + v + ": " + e.getMessage(), e);
    }
  }

  private static Literal literal(Column c, Object v) {
    LogicalType t = c.type();
    if (v == null) {
      return Literal.ofNull(deltaType(c));
    }
    Object k = toKernel(c, v);
    return switch (t.kind()) {
      case BOOLEAN -> Literal.ofBoolean((Boolean) k);
      case INT8 -> Literal.ofByte((Byte) k);
      case INT16 -> Literal.ofShort((Short) k);
      case INT32 -> Literal.ofInt((Integer) k);
      case INT64 -> Literal.ofLong((Long) k);
      case FLOAT32 -> Literal.ofFloat((Float) k);
      case FLOAT64 -> Literal.ofDouble((Double) k);
      case DECIMAL -> Literal.ofDecimal((BigDecimal) k, t.precision(), t.scale());
      case STRING -> Literal.ofString((String) k);
      case BINARY -> Literal.ofBinary((byte[]) k);
      case DATE -> Literal.ofDate((Integer) k);
      case TIMESTAMP_TZ -> Literal.ofTimestamp((Long) k);
      case TIMESTAMP_NTZ -> Literal.ofTimestampNtz((Long) k);
      case JSON -> throw new IllegalArgumentException("nested (JSON) columns cannot be partition columns");
    };
  }
}
