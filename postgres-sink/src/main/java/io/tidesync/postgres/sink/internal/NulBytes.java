package io.tidesync.postgres.sink.internal;

import io.tidesync.InvalidSourceDataException;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.LogicalType;
import org.apache.arrow.vector.BaseVariableWidthVector;

/**
 * The {@link io.tidesync.postgres.sink.NulBytePolicy#FAIL} check: PostgreSQL text cannot hold NUL,
 * so a batch with one is rejected before anything is written.
 */
final class NulBytes {
  private NulBytes() {}

  /**
   * @param rows batch row indexes to be written
   * @param deletes per row, true for a delete (only its key is written); null when none are
   * @throws InvalidSourceDataException naming the column and key of the first NUL found
   */
  static void reject(ChangeBatch batch, TargetPlan p, int[] rows, boolean[] deletes, int count, String subject) {
    byte[] scratch = new byte[256];
    for (int c = 0; c < batch.schema().size(); c++) {
      LogicalType.Kind kind = batch.schema().column(c).type().kind();
      if (kind != LogicalType.Kind.STRING && kind != LogicalType.Kind.JSON) {
        continue;
      }
      BaseVariableWidthVector v = (BaseVariableWidthVector) batch.vector(c);
      for (int i = 0; i < count; i++) {
        int row = rows[i];
        if ((deletes != null && deletes[i] && !p.isKey[c]) || v.isNull(row)) {
          continue;
        }
        int len = v.getValueLength(row);
        if (len > scratch.length) {
          scratch = new byte[Math.max(len, scratch.length * 2)];
        }
        v.getDataBuffer().getBytes(v.getStartOffset(row), scratch, 0, len);
        if (hasNul(scratch, len)) {
          throw new InvalidSourceDataException(subject + ": column \"" + batch.schema().column(c).name() + "\" of key "
              + ChangeReducer.describeKey(batch, p.keyIdx, row) + " holds a NUL character (\\u0000), which PostgreSQL"
              + " text cannot store. Fix the source value, or set nulBytes(NulBytePolicy.STRIP) on the sink to remove"
              + " NUL characters");
        }
      }
    }
  }

  private static boolean hasNul(byte[] bytes, int len) {
    for (int b = 0; b < len; b++) {
      if (bytes[b] == 0) {
        return true;
      }
    }
    return false;
  }
}
