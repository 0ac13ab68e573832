package io.tidesync.postgres.source;

/**
 * What {@link PostgresChangeSource} does when a captured table is truncated. A truncate removes
 * rows without row-level changes, so a history table cannot record it as deletes.
 */
public enum TruncatePolicy {
  /**
   * Default: reading stops with a {@link io.tidesync.ConfigurationException} naming the table and
   * the commit LSN. Nothing after the truncate is delivered, so nothing is silently wrong; the
   * remedy is a new snapshot (drop the sink's position) or {@link #IGNORE}.
   */
  FAIL,
  /** The truncate is skipped with a WARN log; the history keeps the truncated rows as live. */
  IGNORE
}
