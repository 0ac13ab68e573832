package io.tidesync;

import io.tidesync.spi.Position;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * What one run of a pipeline did.
 *
 * @param pipeline the pipeline's name
 * @param mode the mode it ran in
 * @param startPosition the position the sink had committed before the run, if any
 * @param endPosition the position committed at the end of the run, if any
 * @param snapshot whether the run copied a full snapshot
 * @param batches batches applied
 * @param inserted rows inserted
 * @param updated rows updated
 * @param deleted rows deleted
 * @param skipped rows skipped on purpose (null primary keys)
 * @param startedAt when the run started
 * @param duration how long it took
 */
public record SyncResult(String pipeline, SyncMode mode, Optional<Position> startPosition, Optional<Position> endPosition,
    boolean snapshot, long batches, long inserted, long updated, long deleted, long skipped, Instant startedAt,
    Duration duration) {

  /** Rows changed in the target (inserted + updated + deleted). */
  public long rowsChanged() {
    return inserted + updated + deleted;
  }

  @Override
  public String toString() {
    return pipeline + " " + mode + (snapshot ? " (snapshot)" : "") + ": " + startPosition.map(Position::offset).orElse("-")
        + " -> " + endPosition.map(Position::offset).orElse("-") + ", " + batches + " batches, " + inserted + " inserted, "
        + updated + " updated, " + deleted + " deleted, " + skipped + " skipped, " + duration.toMillis() + " ms";
  }
}
