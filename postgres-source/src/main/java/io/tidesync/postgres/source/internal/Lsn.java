package io.tidesync.postgres.source.internal;

/** LSN formatting for messages: {@code 16/B374D848}. */
final class Lsn {
  private Lsn() {}

  static String format(long lsn) {
    return Long.toHexString(lsn >>> 32).toUpperCase(java.util.Locale.ROOT) + "/"
        + Long.toHexString(lsn & 0xffffffffL).toUpperCase(java.util.Locale.ROOT);
  }
}
