package io.tidesync.postgres.sink;

/**
 * What a {@link PostgresSink} does with text values ({@code STRING} and {@code JSON} columns) that
 * contain a NUL character ({@code \u0000}), which PostgreSQL text types cannot store.
 */
public enum NulBytePolicy {
  /**
   * Reject the batch with an {@link io.tidesync.InvalidSourceDataException} naming the table, the
   * column and the key, before anything is written. The default.
   */
  FAIL,
  /** Remove the NUL characters and write the rest of the value. */
  STRIP
}
