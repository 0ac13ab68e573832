package io.tidesync.spi;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.DateDayVector;
import org.apache.arrow.vector.DecimalVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.SmallIntVector;
import org.apache.arrow.vector.TimeStampMicroTZVector;
import org.apache.arrow.vector.TimeStampMicroVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.DateUnit;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.TimeUnit;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;

/**
 * Fills a {@link ChangeBatch} row by row. Sources use it; one builder makes one batch.
 *
 * <p>Arrow representation per {@link LogicalType.Kind}: BOOLEAN {@code BitVector}, INT8
 * {@code TinyIntVector}, INT16 {@code SmallIntVector}, INT32 {@code IntVector}, INT64
 * {@code BigIntVector}, FLOAT32 {@code Float4Vector}, FLOAT64 {@code Float8Vector}, DECIMAL
 * {@code DecimalVector(p, s)}, STRING and JSON {@code VarCharVector} (UTF-8), BINARY
 * {@code VarBinaryVector}, DATE {@code DateDayVector}, TIMESTAMP_TZ {@code TimeStampMicroTZVector}
 * (UTC), TIMESTAMP_NTZ {@code TimeStampMicroVector}.
 *
 * <p>Usage: {@code startRow(kind, version, tsMicros)}, then {@code set(column, value)} for each
 * non-null column, repeated; then {@link #build}. Unset columns of a row are null. If
 * {@code build} is never called, {@link #close()} releases the buffers. Not thread safe.
 */
public final class ChangeBatchBuilder implements AutoCloseable {
  private final TableId table;
  private final TableSchema schema;
  private final VectorSchemaRoot data;
  private final FieldVector[] vectors;
  private final TinyIntVector kinds;
  private final BigIntVector versions;
  private final BigIntVector timestamps;
  private final BigIntVector transactionIds;
  private int row = -1;
  private long variableBytes;
  private boolean handedOff;

  public ChangeBatchBuilder(BufferAllocator allocator, TableId table, TableSchema schema) {
    this.table = table;
    this.schema = schema;
    List<Field> fields = new ArrayList<>(schema.size());
    for (Column c : schema.columns()) {
      fields.add(arrowField(c));
    }
    this.data = VectorSchemaRoot.create(new org.apache.arrow.vector.types.pojo.Schema(fields), allocator);
    this.vectors = data.getFieldVectors().toArray(new FieldVector[0]);
    this.kinds = new TinyIntVector("_change_kind", allocator);
    this.versions = new BigIntVector("_commit_version", allocator);
    this.timestamps = new BigIntVector("_commit_timestamp", allocator);
    this.transactionIds = new BigIntVector("_transaction_id", allocator);
    data.allocateNew();
    kinds.allocateNew();
    versions.allocateNew();
    timestamps.allocateNew();
    transactionIds.allocateNew();
  }

  /** The Arrow field a column is carried in. */
  public static Field arrowField(Column c) {
    return new Field(c.name(), FieldType.nullable(arrowType(c.type())), null);
  }

  /** The Arrow type of a logical type (see the class comment). */
  public static ArrowType arrowType(LogicalType t) {
    switch (t.kind()) {
      case BOOLEAN: return ArrowType.Bool.INSTANCE;
      case INT8: return new ArrowType.Int(8, true);
      case INT16: return new ArrowType.Int(16, true);
      case INT32: return new ArrowType.Int(32, true);
      case INT64: return new ArrowType.Int(64, true);
      case FLOAT32: return new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
      case FLOAT64: return new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
      case DECIMAL: return new ArrowType.Decimal(t.precision(), t.scale(), 128);
      case STRING:
      case JSON: return ArrowType.Utf8.INSTANCE;
      case BINARY: return ArrowType.Binary.INSTANCE;
      case DATE: return new ArrowType.Date(DateUnit.DAY);
      case TIMESTAMP_TZ: return new ArrowType.Timestamp(TimeUnit.MICROSECOND, "UTC");
      case TIMESTAMP_NTZ: return new ArrowType.Timestamp(TimeUnit.MICROSECOND, null);
      default: throw new IllegalArgumentException("unhandled type " + t);
    }
  }

  public TableSchema schema() {
    return schema;
  }

  /** Starts a new row; its columns are null until set. */
  public void startRow(ChangeKind kind, long commitVersion, long commitTimestampMicros) {
    startRow(kind, commitVersion, commitTimestampMicros, -1L);
  }

  /** Starts a new row that carries the source's transaction id (a Postgres xid). */
  public void startRow(ChangeKind kind, long commitVersion, long commitTimestampMicros, long transactionId) {
    row++;
    kinds.setSafe(row, kind.code());
    versions.setSafe(row, commitVersion);
    timestamps.setSafe(row, commitTimestampMicros);
    transactionIds.setSafe(row, transactionId);
  }

  /** Rows started so far. */
  public int rowCount() {
    return row + 1;
  }

  /** An estimate of the memory the rows take, for batch byte limits. */
  public long estimatedBytes() {
    long fixed = 0;
    for (FieldVector v : vectors) {
      if (v instanceof BaseFixedWidthVector f) {
        fixed += (long) f.getTypeWidth() * rowCount();
      } else if (v instanceof BitVector) {
        fixed += rowCount() / 8 + 1;
      }
    }
    return fixed + variableBytes + 25L * rowCount();
  }

  /**
   * Sets column {@code column} of the current row from its canonical Java value (see
   * {@link LogicalType.Kind}); null leaves it null. Integral kinds also accept any {@link Number}
   * that fits; DECIMAL accepts {@link BigDecimal} and rescales without rounding (a value that
   * would need rounding is an error).
   */
  public void set(int column, Object value) {
    if (value == null) {
      return;
    }
    FieldVector v = vectors[column];
    LogicalType t = schema.column(column).type();
    try {
      switch (t.kind()) {
        case BOOLEAN -> ((BitVector) v).setSafe(row, ((Boolean) value) ? 1 : 0);
        case INT8 -> ((TinyIntVector) v).setSafe(row, ((Number) value).byteValue());
        case INT16 -> ((SmallIntVector) v).setSafe(row, ((Number) value).shortValue());
        case INT32 -> ((IntVector) v).setSafe(row, ((Number) value).intValue());
        case INT64 -> ((BigIntVector) v).setSafe(row, ((Number) value).longValue());
        case FLOAT32 -> ((Float4Vector) v).setSafe(row, ((Number) value).floatValue());
        case FLOAT64 -> ((Float8Vector) v).setSafe(row, ((Number) value).doubleValue());
        case DECIMAL -> ((DecimalVector) v).setSafe(row, ((BigDecimal) value).setScale(t.scale(), RoundingMode.UNNECESSARY));
        case STRING, JSON -> setBytes(v, ((String) value).getBytes(StandardCharsets.UTF_8));
        case BINARY -> setBytes(v, (byte[]) value);
        case DATE -> ((DateDayVector) v).setSafe(row, Math.toIntExact(((LocalDate) value).toEpochDay()));
        case TIMESTAMP_TZ -> ((TimeStampMicroTZVector) v).setSafe(row, instantToMicros((Instant) value));
        case TIMESTAMP_NTZ -> ((TimeStampMicroVector) v).setSafe(row, instantToMicros(((LocalDateTime) value).toInstant(ZoneOffset.UTC)));
        default -> throw new IllegalStateException("unhandled type " + t);
      }
    } catch (ClassCastException | ArithmeticException e) {
      throw new IllegalArgumentException("column '" + schema.column(column).name() + "' of type " + t
          + " cannot hold " + value.getClass().getSimpleName() + " value: " + e.getMessage(), e);
    }
  }

  private void setBytes(FieldVector v, byte[] bytes) {
    variableBytes += bytes.length;
    if (v instanceof VarCharVector s) {
      s.setSafe(row, bytes);
    } else {
      ((VarBinaryVector) v).setSafe(row, bytes);
    }
  }

  /** Sets an INT64 column without boxing. */
  public void setLong(int column, long value) {
    ((BigIntVector) vectors[column]).setSafe(row, value);
  }

  /**
   * Sets a column from a number in its Arrow storage form: days for DATE, microseconds since the
   * epoch for both timestamp kinds, the value itself for integral kinds.
   */
  public void setStorageLong(int column, long value) {
    FieldVector v = vectors[column];
    switch (schema.column(column).type().kind()) {
      case INT8 -> ((TinyIntVector) v).setSafe(row, (byte) value);
      case INT16 -> ((SmallIntVector) v).setSafe(row, (short) value);
      case INT32 -> ((IntVector) v).setSafe(row, (int) value);
      case INT64 -> ((BigIntVector) v).setSafe(row, value);
      case DATE -> ((DateDayVector) v).setSafe(row, (int) value);
      case TIMESTAMP_TZ -> ((TimeStampMicroTZVector) v).setSafe(row, value);
      case TIMESTAMP_NTZ -> ((TimeStampMicroVector) v).setSafe(row, value);
      default -> throw new IllegalArgumentException("column '" + schema.column(column).name() + "' of type "
          + schema.column(column).type() + " has no long storage form");
    }
  }

  /** Sets a STRING, JSON or BINARY column from bytes (UTF-8 for strings) without copying twice. */
  public void setBytes(int column, byte[] bytes) {
    setBytes(vectors[column], bytes);
  }

  public static long instantToMicros(Instant i) {
    return Math.addExact(Math.multiplyExact(i.getEpochSecond(), 1_000_000L), i.getNano() / 1000);
  }

  /** Ends the batch: the builder hands its buffers to the returned batch and cannot be reused. */
  public ChangeBatch build(BatchType type, boolean lastOfSnapshot, Position endPosition) {
    return build(type, lastOfSnapshot, false, endPosition);
  }

  /**
   * Ends a {@link BatchType#CHANGES} batch that holds only part of one source transaction (see
   * {@link ChangeBatch#isPartial()}); {@code endPosition} is the position the transaction reaches
   * when complete.
   */
  public ChangeBatch buildPartialTransaction(Position endPosition) {
    return build(BatchType.CHANGES, false, true, endPosition);
  }

  private ChangeBatch build(BatchType type, boolean lastOfSnapshot, boolean partial, Position endPosition) {
    if (handedOff) {
      throw new IllegalStateException("batch already built");
    }
    int n = rowCount();
    for (FieldVector v : vectors) {
      v.setValueCount(n);
    }
    data.setRowCount(n);
    kinds.setValueCount(n);
    versions.setValueCount(n);
    timestamps.setValueCount(n);
    transactionIds.setValueCount(n);
    handedOff = true;
    return new ChangeBatch(table, schema, type, type == BatchType.SNAPSHOT && lastOfSnapshot, endPosition,
        data, kinds, versions, timestamps, transactionIds, type == BatchType.CHANGES && partial);
  }

  /** Releases the buffers unless {@link #build} handed them to a batch. */
  @Override
  public void close() {
    if (!handedOff) {
      handedOff = true;
      data.close();
      kinds.close();
      versions.close();
      timestamps.close();
      transactionIds.close();
    }
  }
}
