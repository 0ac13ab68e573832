package io.tidesync.postgres.sink.internal;

import io.tidesync.InvalidSourceDataException;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeKind;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reduces a batch of changes to one final state per primary key.
 *
 * <p>Per commit version and key, the key's state after the version is its {@code INSERT} or
 * {@code UPDATE_POSTIMAGE} row if it has one, whatever the order of the rows in the version
 * (sources may emit a version's deletes before its inserts); otherwise, when the version deleted
 * it, a delete. Pre-images are ignored. Two different post-images of one key in one version break
 * the key, unless a timeseries column is configured: then the row with the latest value of it
 * wins. Across versions, the last version that touched the key wins. Rows whose key has a null are
 * skipped and counted (pre-images are not counted, so an update counts once).
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

  private static final class Slot {
    int row;
    long version;
    boolean hasPost;
    boolean delete;
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
    int n = batch.rowCount();
    Map<Object, Slot> slots = new HashMap<>(Math.max(16, n * 2));
    List<Slot> order = new ArrayList<>();
    long skipped = 0;
    for (int row = 0; row < n; row++) {
      ChangeKind kind = batch.kind(row);
      if (kind == ChangeKind.UPDATE_PREIMAGE) {
        continue;
      }
      if (keyHasNull(batch, keyColumns, row)) {
        skipped++;
        continue;
      }
      Object key = key(batch, row);
      long version = batch.commitVersion(row);
      Slot s = slots.get(key);
      if (s == null) {
        s = new Slot();
        slots.put(key, s);
        order.add(s);
        take(s, row, version, kind);
      } else if (s.version != version) {
        take(s, row, version, kind);
      } else if (kind == ChangeKind.DELETE) {
        if (!s.hasPost) {
          s.row = row; // a delete after a delete: nothing changes
        }
      } else if (!s.hasPost) {
        take(s, row, version, kind);
      } else if (!sameRow(batch, s.row, row)) {
        s.row = resolveConflict(batch, s.row, row, version);
      }
    }
    int[] rows = new int[order.size()];
    boolean[] deletes = new boolean[order.size()];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = order.get(i).row;
      deletes[i] = order.get(i).delete;
    }
    return new Reduced(rows, deletes, rows.length, skipped);
  }

  private static void take(Slot s, int row, long version, ChangeKind kind) {
    s.row = row;
    s.version = version;
    s.hasPost = kind.isAfterImage();
    s.delete = !s.hasPost;
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

  private Object key(ChangeBatch batch, int row) {
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
