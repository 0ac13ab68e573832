package io.tidesync;

/** Lifecycle of a {@link SyncPipeline}; changes only by compare-and-set. */
public enum SyncStatus {
  /** Built; nothing started, no resources held. */
  CREATED,
  /** A run or the continuous loop is in progress. */
  RUNNING,
  /** {@code close()} was called and the current batch is finishing. */
  STOPPING,
  /** Closed; every resource released. */
  CLOSED,
  /** The continuous loop stopped on an error that retries did not cure; see {@code failure()}. */
  FAILED
}
