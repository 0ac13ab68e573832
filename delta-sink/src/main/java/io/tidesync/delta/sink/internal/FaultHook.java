package io.tidesync.delta.sink.internal;

import io.tidesync.spi.TableId;

/**
 * Test seam: called at the steps of a batch where a crash matters. A hook that throws simulates a
 * crash at that instant. Not public API: the sink always uses {@link #NONE}.
 */
@FunctionalInterface
public interface FaultHook {
  FaultHook NONE = (point, table) -> {};

  /** The steps, in the order they happen. */
  enum Point {
    /** Parquet files of a batch were written; nothing is committed. */
    AFTER_WRITE_FILES,
    /** The Delta commit of a table is durable; nothing after it (other tables, the snapshot marker) happened. */
    AFTER_COMMIT,
    /** The snapshot marker was written. */
    AFTER_MARKER
  }

  void at(Point point, TableId table);
}
