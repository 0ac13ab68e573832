package io.tidesync;

import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.ChangeBatch;

/**
 * Receives a pipeline's progress, on the pipeline's worker thread. Methods must return quickly and
 * not throw; an exception from a listener is logged and ignored.
 */
public interface SyncListener {

  /** A batch was made durable by the sink (and acknowledged to the source). */
  default void onBatchApplied(ChangeBatch batch, ApplyResult result) {}

  /** A run finished: a {@code runOnce()}, or one catch-up round of a continuous pipeline. */
  default void onRunFinished(SyncResult result) {}

  /** A run failed; {@code willRetry} tells whether a continuous pipeline will try again. */
  default void onFailure(TidesyncException error, boolean willRetry) {}
}
