package io.tidesync.spi;

import java.util.Optional;

/**
 * Applies batches to a target, durably and with the position. Used by the pipeline's worker thread
 * only.
 */
public interface ChangeApplier extends AutoCloseable {

  /**
   * The end position of the last batch this sink made durable for the pipeline, or empty if none.
   * For a snapshot that did not complete, the position before it.
   */
  Optional<Position> committedPosition();

  /**
   * Makes the batch durable together with its end position, or fails without changing either.
   * For {@link ChangeBatch#isPartial() partial} batches (a snapshot before its last batch, or part
   * of a large source transaction), rows become visible and the position moves only with the batch
   * that completes the unit. Does not close the batch.
   *
   * @return what the batch did to the target
   * @throws io.tidesync.InvalidSourceDataException for rows the target cannot take
   * @throws io.tidesync.SchemaMismatchException for a schema change the target cannot follow
   * @throws io.tidesync.ApplyFailedException if the target rejected the write; nothing changed
   * @throws io.tidesync.CommitStateUnknownException if it cannot tell whether the commit happened
   */
  ApplyResult apply(ChangeBatch batch);

  /** Releases connections. Idempotent; may be called after a failure. */
  @Override
  void close();
}
