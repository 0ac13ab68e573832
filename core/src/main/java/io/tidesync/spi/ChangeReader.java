package io.tidesync.spi;

/**
 * Reads one run's changes from a source. Used by the pipeline's worker thread only.
 *
 * <p>The pipeline calls {@link #poll()} until it returns null (caught up), hands each batch to the
 * sink, and calls {@link #acknowledge} with the batch's end position once the sink made it
 * durable. A continuous pipeline polls again after its poll interval; a reader then looks for
 * changes that arrived since.
 */
public interface ChangeReader extends AutoCloseable {

  /**
   * The next batch, or null when there is nothing more to read right now. The caller owns and
   * closes the batch.
   *
   * @throws io.tidesync.TidesyncException if the source cannot be read; retryable ones mark
   *     passing faults
   */
  ChangeBatch poll();

  /**
   * Everything up to {@code position} is durable in the sink: the source may release it (move a
   * replication slot, for example). Never called ahead of the sink's commit.
   */
  default void acknowledge(Position position) {}

  /** Releases connections and files. Idempotent; may be called after a failure. */
  @Override
  void close();
}
