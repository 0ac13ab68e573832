package io.tidesync.delta.sink.internal;

import io.delta.kernel.data.ColumnVector;
import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.types.DataType;
import io.delta.kernel.types.StructType;
import io.tidesync.delta.sink.HistoryNaming;
import io.tidesync.spi.ChangeBatch;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.DateDayVector;
import org.apache.arrow.vector.DecimalVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.SmallIntVector;
import org.apache.arrow.vector.TimeStampVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;

/**
 * A Kernel {@link ColumnarBatch} over a {@link ChangeBatch}: the source columns read straight from
 * the Arrow vectors, then the metadata columns computed from the batch's per-row change kind,
 * commit LSN, transaction id and commit timestamp. Nothing is copied. Valid while the batch is open.
 */
final class ArrowColumnarBatch implements ColumnarBatch {
  private final ChangeBatch batch;
  private final StructType schema;
  private final ColumnVector[] vectors;
  private final int offset;
  private final long[] sequence;
  private final int size;

  /**
   * {@code schema} is the history table's schema: the batch's columns in order, then the metadata
   * columns of {@code naming}. Rows before {@code fromRow} are left out (already committed).
   * {@code sequence[r]} is row r's position within its transaction.
   */
  ArrowColumnarBatch(ChangeBatch batch, StructType schema, HistoryNaming naming, int fromRow, long[] sequence) {
    this.sequence = sequence;
    this.batch = batch;
    this.offset = fromRow;
    this.size = batch.rowCount() - fromRow;
    this.schema = schema;
    int n = batch.schema().size();
    this.vectors = new ColumnVector[schema.length()];
    for (int i = 0; i < n; i++) {
      vectors[i] = new ArrowVector(batch.vector(i), schema.at(i).getDataType());
    }
    int i = n;
    vectors[i++] = new Meta(schema.at(n).getDataType(), Meta.KIND);
    vectors[i++] = new Meta(schema.at(n + 1).getDataType(), Meta.LSN);
    if (naming.xidColumn().isPresent()) {
      vectors[i] = new Meta(schema.at(i).getDataType(), Meta.XID);
      i++;
    }
    vectors[i] = new Meta(schema.at(i).getDataType(), Meta.TIMESTAMP);
    i++;
    vectors[i] = new Meta(schema.at(i).getDataType(), Meta.SEQ);
  }

  @Override
  public StructType getSchema() {
    return schema;
  }

  @Override
  public ColumnVector getColumnVector(int ordinal) {
    return vectors[ordinal];
  }

  @Override
  public int getSize() {
    return size;
  }

  /** One source column: reads the Arrow vector in Kernel's value forms (days, microseconds, BigDecimal). */
  private final class ArrowVector implements ColumnVector {
    private final FieldVector v;
    private final DataType type;

    ArrowVector(FieldVector v, DataType type) {
      this.v = v;
      this.type = type;
    }

    @Override public DataType getDataType() { return type; }
    @Override public int getSize() { return size; }
    @Override public void close() {}
    @Override public boolean isNullAt(int row) { return v.isNull(offset + row); }
    @Override public boolean getBoolean(int row) { return ((BitVector) v).get(offset + row) != 0; }
    @Override public byte getByte(int row) { return ((TinyIntVector) v).get(offset + row); }
    @Override public short getShort(int row) { return ((SmallIntVector) v).get(offset + row); }

    @Override
    public int getInt(int row) {
      return v instanceof DateDayVector d ? d.get(offset + row) : ((IntVector) v).get(offset + row);
    }

    @Override
    public long getLong(int row) {
      return v instanceof TimeStampVector t ? t.get(offset + row) : ((BigIntVector) v).get(offset + row);
    }

    @Override public float getFloat(int row) { return ((Float4Vector) v).get(offset + row); }
    @Override public double getDouble(int row) { return ((Float8Vector) v).get(offset + row); }

    @Override
    public BigDecimal getDecimal(int row) {
      return v.isNull(offset + row) ? null : ((DecimalVector) v).getObject(offset + row);
    }

    @Override
    public String getString(int row) {
      return v.isNull(offset + row) ? null : new String(((VarCharVector) v).get(offset + row), StandardCharsets.UTF_8);
    }

    @Override
    public byte[] getBinary(int row) {
      return v.isNull(offset + row) ? null : ((VarBinaryVector) v).get(offset + row);
    }
  }

  /** A metadata column computed from the batch's per-row fields; never null. */
  private final class Meta implements ColumnVector {
    static final int KIND = 0;
    static final int LSN = 1;
    static final int XID = 2;
    static final int TIMESTAMP = 3;
    static final int SEQ = 4;
    private final DataType type;
    private final int which;

    Meta(DataType type, int which) {
      this.type = type;
      this.which = which;
    }

    @Override public DataType getDataType() { return type; }
    @Override public int getSize() { return size; }
    @Override public void close() {}
    @Override public boolean isNullAt(int row) { return false; }

    @Override
    public String getString(int row) {
      return batch.kind(offset + row).cdfName();
    }

    @Override
    public long getLong(int row) {
      switch (which) {
        case LSN: return batch.commitVersion(offset + row);
        case XID: return batch.transactionId(offset + row);
        case TIMESTAMP: return batch.commitTimestampMicros(offset + row);
        case SEQ: return sequence[offset + row];
        default: throw new UnsupportedOperationException("not a long column");
      }
    }
  }
}
