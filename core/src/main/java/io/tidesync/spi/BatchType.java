package io.tidesync.spi;

/** Whether a batch carries part of a full copy of a table or changes since a position. */
public enum BatchType {
  /**
   * Part of a full image of the table at the batch's end position; every row is an
   * {@link ChangeKind#INSERT}. A snapshot spans one or more batches, the last one marked
   * {@link ChangeBatch#lastOfSnapshot()}; a sink makes it visible, with the position, only then.
   */
  SNAPSHOT,
  /** Changes after the previous batch's end position, up to and including this batch's. */
  CHANGES
}
