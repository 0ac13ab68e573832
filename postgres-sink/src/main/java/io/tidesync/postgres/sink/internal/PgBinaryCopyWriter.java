package io.tidesync.postgres.sink.internal;

import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.LogicalType;
import java.math.BigDecimal;
import java.nio.ByteOrder;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseVariableWidthVector;
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
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;

/**
 * Writes rows of a {@link ChangeBatch} in PostgreSQL's binary COPY format ({@code PGCOPY}), reading
 * the Arrow vectors directly: the hot path of both the staging and the snapshot load.
 *
 * <p>Column {@code i} of the COPY target is column {@code i} of the batch, typed as
 * {@link PgTypes#wire}; when an op column is asked for, it follows as a {@code smallint}. Rows
 * marked as deletes carry only their key columns (the others are written as null). Not thread
 * safe; one writer per COPY.
 */
public final class PgBinaryCopyWriter {
  private static final byte[] SIGNATURE = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', (byte) 0xFF, '\r', '\n', 0};
  /** 2000-01-01, PostgreSQL's epoch, in days and microseconds since 1970-01-01. */
  private static final int PG_EPOCH_DAYS = 10957;
  private static final long PG_EPOCH_MICROS = 946_684_800_000_000L;
  private static final int FLUSH_AT = 1 << 16;
  private static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
  private static final long[] POW10 = new long[19];

  static {
    POW10[0] = 1;
    for (int i = 1; i < POW10.length; i++) {
      POW10[i] = POW10[i - 1] * 10;
    }
  }

  private final ChangeBatch batch;
  private final boolean stripNul;
  private final boolean[] isKey;
  private final FieldVector[] vectors;
  private final LogicalType.Kind[] kinds;
  private byte[] buf = new byte[FLUSH_AT + 1024];
  /** Base-10000 digits of the numeric being written: a long has at most 5, a scale of 15 at most 4 more. */
  private final short[] groups = new short[10];
  private int pos;
  private long bytesWritten;

  public PgBinaryCopyWriter(ChangeBatch batch, boolean[] isKey, boolean stripNul) {
    this.batch = batch;
    this.isKey = isKey;
    this.stripNul = stripNul;
    int n = batch.schema().size();
    this.vectors = new FieldVector[n];
    this.kinds = new LogicalType.Kind[n];
    for (int i = 0; i < n; i++) {
      vectors[i] = batch.vector(i);
      kinds[i] = batch.schema().column(i).type().kind();
    }
  }

  /**
   * Runs {@code COPY into (columns) FROM STDIN (FORMAT binary)} with the rows, inside the caller's
   * transaction; a COPY that fails half way is cancelled (the caller rolls back).
   *
   * @param columns the batch's column names, plus the op column when {@code deletes} is not null
   * @return bytes sent
   */
  static long copy(Connection conn, String into, List<String> columns, ChangeBatch batch, boolean[] isKey,
      boolean stripNul, int[] rows, int count, boolean[] deletes) throws SQLException {
    CopyIn copy = conn.unwrap(PGConnection.class).getCopyAPI()
        .copyIn("COPY " + into + " (" + TargetTable.columnList(columns) + ") FROM STDIN (FORMAT binary)");
    try {
      return new PgBinaryCopyWriter(batch, isKey, stripNul).write(copy, rows, count, deletes);
    } finally {
      if (copy.isActive()) {
        try {
          copy.cancelCopy();
        } catch (SQLException ignored) {
          // the transaction is rolled back by the caller
        }
      }
    }
  }

  /**
   * Streams the rows to {@code copy} and ends it.
   *
   * @param rows batch row indexes, in order
   * @param count how many of {@code rows} to write
   * @param deletes per written row, true for a delete; null when there is no op column
   * @return bytes sent
   */
  public long write(CopyIn copy, int[] rows, int count, boolean[] deletes) throws SQLException {
    ensure(19);
    System.arraycopy(SIGNATURE, 0, buf, 0, SIGNATURE.length);
    pos = SIGNATURE.length;
    putInt(0);
    putInt(0);
    short fields = (short) (vectors.length + (deletes == null ? 0 : 1));
    for (int r = 0; r < count; r++) {
      int row = rows[r];
      boolean delete = deletes != null && deletes[r];
      ensure(2);
      putShort(fields);
      for (int c = 0; c < vectors.length; c++) {
        if (delete && !isKey[c]) {
          ensure(4);
          putInt(-1);
        } else {
          writeValue(c, row);
        }
      }
      if (deletes != null) {
        ensure(6);
        putInt(2);
        putShort((short) (delete ? 1 : 0));
      }
      if (pos >= FLUSH_AT) {
        flush(copy);
      }
    }
    ensure(2);
    putShort((short) -1);
    flush(copy);
    copy.endCopy();
    return bytesWritten;
  }

  private void writeValue(int c, int row) {
    FieldVector v = vectors[c];
    if (v.isNull(row)) {
      ensure(4);
      putInt(-1);
      return;
    }
    switch (kinds[c]) {
      case BOOLEAN -> {
        ensure(5);
        putInt(1);
        buf[pos++] = (byte) ((BitVector) v).get(row);
      }
      case INT8 -> {
        ensure(6);
        putInt(2);
        putShort(((TinyIntVector) v).get(row));
      }
      case INT16 -> {
        ensure(6);
        putInt(2);
        putShort(((SmallIntVector) v).get(row));
      }
      case INT32 -> {
        ensure(8);
        putInt(4);
        putInt(((IntVector) v).get(row));
      }
      case INT64 -> {
        ensure(12);
        putInt(8);
        putLong(((BigIntVector) v).get(row));
      }
      case FLOAT32 -> {
        ensure(8);
        putInt(4);
        putInt(Float.floatToRawIntBits(((Float4Vector) v).get(row)));
      }
      case FLOAT64 -> {
        ensure(12);
        putInt(8);
        putLong(Double.doubleToRawLongBits(((Float8Vector) v).get(row)));
      }
      case DECIMAL -> writeDecimal((DecimalVector) v, row);
      case STRING -> writeBytes((BaseVariableWidthVector) v, row, false, stripNul);
      case JSON -> writeBytes((BaseVariableWidthVector) v, row, true, stripNul);
      case BINARY -> writeBytes((BaseVariableWidthVector) v, row, false, false);
      case DATE -> {
        ensure(8);
        putInt(4);
        putInt(((DateDayVector) v).get(row) - PG_EPOCH_DAYS);
      }
      case TIMESTAMP_TZ, TIMESTAMP_NTZ -> {
        ensure(12);
        putInt(8);
        putLong(((TimeStampVector) v).get(row) - PG_EPOCH_MICROS);
      }
      default -> throw new IllegalStateException("unhandled type " + kinds[c]);
    }
  }

  private void writeBytes(BaseVariableWidthVector v, int row, boolean jsonb, boolean strip) {
    long start = v.getStartOffset(row);
    int len = v.getValueLength(row);
    int header = jsonb ? 1 : 0;
    ensure(4 + header + len);
    int lenAt = pos;
    pos += 4;
    if (jsonb) {
      buf[pos++] = 1; // jsonb binary format version
    }
    ArrowBuf data = v.getDataBuffer();
    data.getBytes(start, buf, pos, len);
    if (strip) {
      int w = pos;
      for (int i = pos, end = pos + len; i < end; i++) {
        if (buf[i] != 0) {
          buf[w++] = buf[i];
        }
      }
      len = w - pos;
    }
    pos += len;
    int saved = pos;
    pos = lenAt;
    putInt(header + len);
    pos = saved;
  }

  /**
   * A decimal whose unscaled value fits a long (any precision up to 18) and whose scale is at most
   * 15 is encoded from the vector's bytes without a {@link BigDecimal}; others take
   * {@link #writeNumeric(BigDecimal)}.
   */
  private void writeDecimal(DecimalVector v, int row) {
    int scale = v.getScale();
    if (LITTLE_ENDIAN && scale >= 0 && scale <= 15) {
      ArrowBuf data = v.getDataBuffer();
      long low = data.getLong((long) row * DecimalVector.TYPE_WIDTH);
      long high = data.getLong((long) row * DecimalVector.TYPE_WIDTH + 8);
      if (high == (low >> 63) && low != Long.MIN_VALUE) {
        writeNumeric(low, scale);
        return;
      }
    }
    writeNumeric(v.getObject(row));
  }

  /** {@link #writeNumeric(BigDecimal)} of {@code unscaled * 10^-scale}, for 0 <= scale <= 15. */
  void writeNumeric(long unscaled, int scale) {
    long abs = Math.abs(unscaled);
    long pow = POW10[scale];
    long intPart = abs / pow;
    int fracPad = (4 - scale % 4) % 4;
    long frac = (abs % pow) * POW10[fracPad]; // < 10^18: no overflow
    int fracGroups = (scale + fracPad) / 4;
    short[] g = groups;
    int intGroups = 0;
    for (long x = intPart; x > 0; x /= 10000) {
      intGroups++;
    }
    for (int i = intGroups - 1; i >= 0; i--) {
      g[i] = (short) (intPart % 10000);
      intPart /= 10000;
    }
    for (int i = intGroups + fracGroups - 1; i >= intGroups; i--) {
      g[i] = (short) (frac % 10000);
      frac /= 10000;
    }
    writeNumericGroups(g, intGroups + fracGroups, intGroups, unscaled < 0, scale);
  }

  /** Visible for tests: the bytes (length word included) written for column {@code c} of {@code row}. */
  byte[] encode(int c, int row) {
    pos = 0;
    writeValue(c, row);
    return java.util.Arrays.copyOf(buf, pos);
  }

  /** Visible for tests: the bytes written by {@link #writeNumeric(BigDecimal)}. */
  byte[] encodeNumeric(BigDecimal d) {
    pos = 0;
    writeNumeric(d);
    return java.util.Arrays.copyOf(buf, pos);
  }

  /** PostgreSQL's binary numeric: base-10000 digits, weight, sign, display scale. */
  void writeNumeric(BigDecimal d) {
    int scale = Math.max(d.scale(), 0);
    if (d.scale() < 0) {
      d = d.setScale(0);
    }
    String digits = d.unscaledValue().abs().toString();
    if (digits.length() <= scale) {
      digits = "0".repeat(scale - digits.length() + 1) + digits;
    }
    String intPart = digits.substring(0, digits.length() - scale);
    String fracPart = digits.substring(digits.length() - scale);
    int intPad = (4 - intPart.length() % 4) % 4;
    int fracPad = (4 - fracPart.length() % 4) % 4;
    String all = "0".repeat(intPad) + intPart + fracPart + "0".repeat(fracPad);
    int groups = all.length() / 4;
    int intGroups = (intPad + intPart.length()) / 4;
    short[] g = new short[groups];
    for (int i = 0; i < groups; i++) {
      g[i] = (short) Integer.parseInt(all, i * 4, i * 4 + 4, 10);
    }
    writeNumericGroups(g, groups, intGroups, d.signum() < 0, scale);
  }

  /**
   * Writes a numeric from its base-10000 digit groups {@code g[0..groupCount)}, the first
   * {@code intGroups} of them before the decimal point: leading and trailing zero groups are
   * dropped, as PostgreSQL stores them.
   */
  private void writeNumericGroups(short[] g, int groupCount, int intGroups, boolean negative, int scale) {
    int first = 0;
    while (first < groupCount && g[first] == 0) {
      first++;
    }
    int last = groupCount - 1;
    while (last >= first && g[last] == 0) {
      last--;
    }
    int ndigits = last >= first ? last - first + 1 : 0;
    int weight = ndigits == 0 ? 0 : intGroups - 1 - first;
    short sign = negative ? (short) 0x4000 : 0;
    ensure(4 + 8 + 2 * ndigits);
    putInt(8 + 2 * ndigits);
    putShort((short) ndigits);
    putShort((short) weight);
    putShort(ndigits == 0 ? 0 : sign);
    putShort((short) scale);
    for (int i = first; i <= last; i++) {
      putShort(g[i]);
    }
  }

  private void ensure(int more) {
    if (pos + more > buf.length) {
      byte[] bigger = new byte[Math.max(buf.length * 2, pos + more)];
      System.arraycopy(buf, 0, bigger, 0, pos);
      buf = bigger;
    }
  }

  private void flush(CopyIn copy) throws SQLException {
    if (pos > 0) {
      copy.writeToCopy(buf, 0, pos);
      bytesWritten += pos;
      pos = 0;
      if (buf.length > 4 * FLUSH_AT) {
        buf = new byte[FLUSH_AT + 1024]; // do not keep a buffer grown for one huge value
      }
    }
  }

  private void putShort(int v) {
    buf[pos++] = (byte) (v >>> 8);
    buf[pos++] = (byte) v;
  }

  private void putInt(int v) {
    buf[pos++] = (byte) (v >>> 24);
    buf[pos++] = (byte) (v >>> 16);
    buf[pos++] = (byte) (v >>> 8);
    buf[pos++] = (byte) v;
  }

  private void putLong(long v) {
    putInt((int) (v >>> 32));
    putInt((int) v);
  }
}
