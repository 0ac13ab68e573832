package io.tidesync.postgres.sink.internal;

import io.tidesync.InvalidSourceDataException;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.LogicalType;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.util.ByteFunctionHelpers;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.FieldVector;

/**
 * Reduces a batch of changes to one final state per primary key.
 *
 * <p>Per commit version and key, the key's state after the version is its {@code INSERT} or
 * {@code UPDATE_POSTIMAGE} row if it has one, whatever the order of the rows in the version
 * (sources may emit a version's deletes before its inserts); otherwise a delete: a version that
 * gives a key only a {@code DELETE} or an {@code UPDATE_PREIMAGE} removes it (an update that
 * changes the primary key leaves a pre-image under the old key and a post-image under the new
 * one). Two different post-images of one key in one version break the key, unless a timeseries
 * column is configured: then the row with the latest value of it wins. Across versions, the last
 * version that touched the key wins. Rows whose key has a null are skipped and counted
 * (pre-images are not counted, so an update counts once).
 */
public final class ChangeReducer {

  /**
   * The reduced batch.
   *
   * @param rows batch row indexes of the final states, one per key
   * @param deletes for each of {@code rows}, whether the final state is "deleted"
   * @param count how many entries of {@code rows} are used
   * @param skipped rows dropped because their key had a null
   */
  public record Reduced(int[] rows, boolean[] deletes, int count, long skipped) {
    public int deleteCount() {
      int n = 0;
      for (int i = 0; i < count; i++) {
        n += deletes[i] ? 1 : 0;
      }
      return n;
    }
  }

  private final int[] keyColumns;
  private final int timeseriesColumn;
  private final String subject;

  /**
   * @param keyColumns batch column indexes of the primary key
   * @param timeseriesColumn batch column index of the timeseries key, or -1
   * @param subject start of error messages, e.g. {@code pipeline: cannot apply changes to public.t}
   */
  public ChangeReducer(int[] keyColumns, int timeseriesColumn, String subject) {
    this.keyColumns = keyColumns;
    this.timeseriesColumn = timeseriesColumn;
    this.subject = subject;
  }

  /** True when one of the key columns of {@code row} is null. */
  public static boolean keyHasNull(ChangeBatch batch, int[] keyColumns, int row) {
    for (int k : keyColumns) {
      if (batch.isNull(k, row)) {
        return true;
      }
    }
    return false;
  }

  /** @throws InvalidSourceDataException for two different post-images of a key in one version */
  public Reduced reduce(ChangeBatch batch) {
    return reduce(batch, VectorKeyIndex.supports(batch, keyColumns));
  }

  /** Visible for tests: {@code vectorKeys} false forces the boxed key path. */
  Reduced reduce(ChangeBatch batch, boolean vectorKeys) {
    int n = batch.rowCount();
    KeyIndex keys = vectorKeys ? new VectorKeyIndex(batch, keyColumns, n) : new BoxedKeyIndex(batch, keyColumns, n);
    // Per key (slot, in order of first appearance): the row of its final state so far, the
    // version that row belongs to, and whether that version gave it a post-image / deleted it.
    int[] slotRow = new int[n];
    long[] slotVersion = new long[n];
    boolean[] hasPost = new boolean[n];
    boolean[] deletes = new boolean[n];
    int slots = 0;
    long skipped = 0;
    for (int row = 0; row < n; row++) {
      ChangeKind kind = batch.kind(row);
      if (keyHasNull(batch, keyColumns, row)) {
        skipped += kind == ChangeKind.UPDATE_PREIMAGE ? 0 : 1;
        continue;
      }
      long version = batch.commitVersion(row);
      int s = keys.slotOf(row, slots);
      if (s == slots) {
        slots++;
        take(slotRow, slotVersion, hasPost, deletes, s, row, version, kind);
      } else if (slotVersion[s] != version) {
        take(slotRow, slotVersion, hasPost, deletes, s, row, version, kind);
      } else if (!kind.isAfterImage()) {
        if (!hasPost[s]) {
          slotRow[s] = row; // a delete or pre-image after another: the key stays deleted
        }
      } else if (!hasPost[s]) {
        take(slotRow, slotVersion, hasPost, deletes, s, row, version, kind);
      } else if (!sameRow(batch, slotRow[s], row)) {
        slotRow[s] = resolveConflict(batch, slotRow[s], row, version);
      }
    }
    return new Reduced(slotRow, deletes, slots, skipped);
  }

  private static void take(int[] slotRow, long[] slotVersion, boolean[] hasPost, boolean[] deletes, int s, int row,
      long version, ChangeKind kind) {
    slotRow[s] = row;
    slotVersion[s] = version;
    hasPost[s] = kind.isAfterImage();
    deletes[s] = !hasPost[s];
  }

  /** Finds the slot of a row's key. */
  private interface KeyIndex {
    /** The slot of {@code row}'s key; {@code next} (now taken by the key) when the key is new. */
    int slotOf(int row, int next);
  }

  /** Any key type: boxes the key values ({@link ChangeBatch#value}) into a {@link HashMap} key. */
  private static final class BoxedKeyIndex implements KeyIndex {
    private final ChangeBatch batch;
    private final int[] keyColumns;
    private final Map<Object, Integer> slots;

    BoxedKeyIndex(ChangeBatch batch, int[] keyColumns, int rows) {
      this.batch = batch;
      this.keyColumns = keyColumns;
      this.slots = new HashMap<>(Math.max(16, rows * 2));
    }

    @Override
    public int slotOf(int row, int next) {
      Integer s = slots.putIfAbsent(key(row), next);
      return s == null ? next : s;
    }

    private Object key(int row) {
      if (keyColumns.length == 1) {
        return keyPart(batch.value(keyColumns[0], row));
      }
      Object[] parts = new Object[keyColumns.length];
      for (int i = 0; i < parts.length; i++) {
        parts[i] = keyPart(batch.value(keyColumns[i], row));
      }
      return List.of(parts);
    }

    private static Object keyPart(Object v) {
      return v instanceof byte[] b ? ByteBuffer.wrap(b) : v;
    }
  }

  /**
   * Keys made of integer, date, timestamp and text columns, hashed and compared on the Arrow
   * vectors without boxing: an open-addressing table (linear probing, at most half full) of slots,
   * each remembering its key's hash and the first row that had the key. Text compares by its UTF-8
   * bytes.
   */
  static final class VectorKeyIndex implements KeyIndex {
    private final FieldVector[] vectors;
    /** Per key column: 8 or 4 (fixed-width values read as long or int) or 0 (variable-width bytes). */
    private final int[] widths;
    private final int[] table;
    private final int mask;
    private final int[] slotHash;
    private final int[] slotKeyRow;

    /** True for keys whose columns are all INT32, INT64, DATE, TIMESTAMP_* or STRING. */
    static boolean supports(ChangeBatch batch, int[] keyColumns) {
      for (int c : keyColumns) {
        if (width(batch.schema().column(c).type().kind()) < 0) {
          return false;
        }
      }
      return true;
    }

    private static int width(LogicalType.Kind kind) {
      return switch (kind) {
        case INT64, TIMESTAMP_TZ, TIMESTAMP_NTZ -> 8;
        case INT32, DATE -> 4;
        case STRING -> 0;
        default -> -1;
      };
    }

    VectorKeyIndex(ChangeBatch batch, int[] keyColumns, int rows) {
      vectors = new FieldVector[keyColumns.length];
      widths = new int[keyColumns.length];
      for (int i = 0; i < keyColumns.length; i++) {
        vectors[i] = batch.vector(keyColumns[i]);
        widths[i] = width(batch.schema().column(keyColumns[i]).type().kind());
      }
      int size = Integer.highestOneBit(Math.max(8, rows) * 2 - 1) << 1; // a power of two > 2 * rows
      table = new int[size];
      mask = size - 1;
      slotHash = new int[rows];
      slotKeyRow = new int[rows];
    }

    @Override
    public int slotOf(int row, int next) {
      int h = hash(row);
      for (int i = h & mask; ; i = (i + 1) & mask) {
        int s = table[i] - 1;
        if (s < 0) {
          table[i] = next + 1;
          slotHash[next] = h;
          slotKeyRow[next] = row;
          return next;
        }
        if (slotHash[s] == h && equal(slotKeyRow[s], row)) {
          return s;
        }
      }
    }

    private int hash(int row) {
      int h = 0;
      for (int i = 0; i < vectors.length; i++) {
        int part;
        if (widths[i] == 8) {
          part = mix(((BaseFixedWidthVector) vectors[i]).getDataBuffer().getLong((long) row * 8));
        } else if (widths[i] == 4) {
          part = mix(((BaseFixedWidthVector) vectors[i]).getDataBuffer().getInt((long) row * 4));
        } else {
          BaseVariableWidthVector v = (BaseVariableWidthVector) vectors[i];
          part = ByteFunctionHelpers.hash(v.getDataBuffer(), v.getStartOffset(row), v.getEndOffset(row));
        }
        h = h * 31 + part;
      }
      return h ^ (h >>> 16);
    }

    private boolean equal(int a, int b) {
      for (int i = 0; i < vectors.length; i++) {
        if (widths[i] == 8) {
          ArrowBuf d = ((BaseFixedWidthVector) vectors[i]).getDataBuffer();
          if (d.getLong((long) a * 8) != d.getLong((long) b * 8)) {
            return false;
          }
        } else if (widths[i] == 4) {
          ArrowBuf d = ((BaseFixedWidthVector) vectors[i]).getDataBuffer();
          if (d.getInt((long) a * 4) != d.getInt((long) b * 4)) {
            return false;
          }
        } else {
          BaseVariableWidthVector v = (BaseVariableWidthVector) vectors[i];
          ArrowBuf d = v.getDataBuffer();
          if (ByteFunctionHelpers.equal(d, v.getStartOffset(a), v.getEndOffset(a), d, v.getStartOffset(b),
              v.getEndOffset(b)) == 0) {
            return false;
          }
        }
      }
      return true;
    }

    /** Fibonacci hashing: spreads sequential and strided values over the high bits. */
    private static int mix(long v) {
      return (int) ((v * 0x9E3779B97F4A7C15L) >>> 32);
    }
  }

  private int resolveConflict(ChangeBatch batch, int current, int candidate, long version) {
    if (timeseriesColumn >= 0) {
      int c = compareTimeseries(batch.value(timeseriesColumn, current), batch.value(timeseriesColumn, candidate));
      if (c != 0) {
        return c > 0 ? current : candidate;
      }
      throw new InvalidSourceDataException(subject + ": two different post-images of key " + describeKey(batch, candidate)
          + " in version " + version + " have the same " + batch.schema().column(timeseriesColumn).name() + " value "
          + batch.value(timeseriesColumn, candidate) + ". Fix the source so that the timeseries column orders the changes of a key"
          + " within a version, or choose another timeseriesKey column");
    }
    throw new InvalidSourceDataException(subject + ": two different post-images of key " + describeKey(batch, candidate)
        + " in version " + version + ": the source violates its primary key. Fix the source so that the key is unique per version,"
        + " or set timeseriesKey(column) on the sink so that the row with the latest value of that column wins");
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static int compareTimeseries(Object a, Object b) {
    if (a == null || b == null) {
      return a == null ? (b == null ? 0 : -1) : 1; // null is older than any value
    }
    return ((Comparable) a).compareTo(b);
  }

  private static boolean sameRow(ChangeBatch batch, int a, int b) {
    for (int c = 0; c < batch.schema().size(); c++) {
      if (!Objects.deepEquals(batch.value(c, a), batch.value(c, b))) {
        return false;
      }
    }
    return true;
  }

  /** {@code (id=5, region='eu')}, for messages. */
  public String describeKey(ChangeBatch batch, int row) {
    return describeKey(batch, keyColumns, row);
  }

  public static String describeKey(ChangeBatch batch, int[] keyColumns, int row) {
    StringBuilder sb = new StringBuilder("(");
    for (int i = 0; i < keyColumns.length; i++) {
      Object v = batch.value(keyColumns[i], row);
      sb.append(i == 0 ? "" : ", ").append(batch.schema().column(keyColumns[i]).name()).append('=');
      if (v instanceof String s) {
        sb.append('\'').append(s.replace("\0", "\\0")).append('\'');
      } else if (v instanceof byte[] b) {
        sb.append("\\x");
        for (byte x : b) {
          sb.append(String.format("%02x", x));
        }
      } else {
        sb.append(v);
      }
    }
    return sb.append(')').toString();
  }
}
