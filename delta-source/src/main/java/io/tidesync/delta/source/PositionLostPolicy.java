package io.tidesync.delta.source;

/**
 * What a {@link DeltaChangeSource} does when the committed position cannot be continued with the
 * Change Data Feed: the start version is gone from the Delta log (log cleanup), or Change Data Feed
 * is not enabled at a version that must be read.
 */
public enum PositionLostPolicy {
  /** Fail with a clear error ({@link io.tidesync.SourcePositionLostException} or
   *  {@link io.tidesync.ConfigurationException}); nothing is applied. The default. */
  FAIL,
  /** Log a warning and emit a new snapshot of the table at its latest version instead. */
  RESNAPSHOT
}
