package io.tidesync.delta.source.internal;

import io.tidesync.spi.ChangeBatchBuilder;

/**
 * Rows of one snapshot or one commit, in a deterministic order, written one at a time into a
 * {@link ChangeBatchBuilder}. Closes every Kernel resource it opened.
 */
interface RowCursor extends AutoCloseable {
  /** True if another row follows; may read files. */
  boolean hasNext();

  /** Writes the next row into the builder (starting a row with its change kind). */
  void emit(ChangeBatchBuilder builder, long commitVersion, long commitTimestampMicros);

  /** Skips the next row. */
  void skip();

  @Override
  void close();

  RowCursor EMPTY = new RowCursor() {
    @Override public boolean hasNext() { return false; }
    @Override public void emit(ChangeBatchBuilder b, long v, long ts) { throw new IllegalStateException("no rows"); }
    @Override public void skip() { throw new IllegalStateException("no rows"); }
    @Override public void close() {}
  };
}
