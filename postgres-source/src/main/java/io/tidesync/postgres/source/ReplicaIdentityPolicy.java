package io.tidesync.postgres.source;

/**
 * What {@link PostgresChangeSource} does about captured tables whose {@code REPLICA IDENTITY} is
 * not {@code FULL}. FULL identity makes Postgres log the whole old row of every update and delete,
 * which history tables need for pre-images, deletes and unchanged TOAST values.
 */
public enum ReplicaIdentityPolicy {
  /**
   * Default: {@code open} fails with a {@link io.tidesync.ConfigurationException} that lists every
   * such table and the {@code ALTER TABLE .. REPLICA IDENTITY FULL} statements to run.
   */
  REQUIRE_FULL,
  /** {@code open} runs {@code ALTER TABLE .. REPLICA IDENTITY FULL} itself (needs table ownership). */
  SET_FULL
}
