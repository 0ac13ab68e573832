package io.tidesync.delta.source.internal;

import io.tidesync.ConfigurationException;
import io.tidesync.spi.Position;

/**
 * A Delta position's offset: {@code "<v>"} (version {@code v} fully applied) or {@code "<v>#<n>"}
 * (version {@code v} applied up to its first {@code n} rows in the reader's order).
 */
record DeltaOffset(long version, long rows) {

  /** The last version fully applied. */
  long appliedVersion() {
    return rows > 0 ? version - 1 : version;
  }

  static DeltaOffset parse(String table, Position p) {
    String o = p.offset();
    try {
      int hash = o.indexOf('#');
      long v = Long.parseLong(hash < 0 ? o : o.substring(0, hash));
      long n = hash < 0 ? 0 : Long.parseLong(o.substring(hash + 1));
      if (v < 0 || n < 0 || (hash >= 0 && n == 0)) {
        throw new NumberFormatException("negative or empty");
      }
      return new DeltaOffset(v, n);
    } catch (NumberFormatException e) {
      throw new ConfigurationException(table + ": cannot continue from position " + p + ": offset '" + o
          + "' is not a Delta position (\"<version>\" or \"<version>#<rows>\"). Use a new pipeline name to start"
          + " with a snapshot");
    }
  }

  static String format(long version, long rows) {
    return rows > 0 ? version + "#" + rows : Long.toString(version);
  }
}
