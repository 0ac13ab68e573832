package io.tidesync.postgres.sink;

/**
 * How a {@link PostgresSink} writes a batch of changes. Every mode applies the batch and its end
 * position in one transaction; they differ only in speed for small and large batches.
 */
public enum ApplyMode {
  /**
   * {@link #COPY_MERGE} for batches of at least {@link PostgresSink#copyThreshold(int)} rows,
   * {@link #BATCHED_UPSERT} for smaller ones. The default.
   */
  AUTO,
  /**
   * Binary {@code COPY} of the reduced rows into a temporary staging table, then one {@code MERGE}
   * (PostgreSQL 15 and later; {@code INSERT .. ON CONFLICT} plus {@code DELETE .. USING} before).
   * Fastest for large batches.
   */
  COPY_MERGE,
  /**
   * JDBC batches of {@code INSERT .. ON CONFLICT DO UPDATE} and {@code DELETE}. Lowest latency for
   * small batches.
   */
  BATCHED_UPSERT
}
