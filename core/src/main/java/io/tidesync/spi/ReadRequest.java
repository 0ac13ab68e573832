package io.tidesync.spi;

import io.tidesync.SyncMode;
import java.util.Optional;

/**
 * What a pipeline asks of a source for one run.
 *
 * @param mode the pipeline's mode: {@code SNAPSHOT} asks for a full copy whatever the start
 *     position; the other modes ask for changes after {@code start}, or a snapshot when it is empty
 * @param start the position the sink committed last, if any
 */
public record ReadRequest(SyncMode mode, Optional<Position> start) {
  public ReadRequest {
    java.util.Objects.requireNonNull(mode, "mode");
    java.util.Objects.requireNonNull(start, "start");
  }

  /** True when the reader must produce a snapshot first. */
  public boolean needsSnapshot() {
    return mode == SyncMode.SNAPSHOT || start.isEmpty();
  }
}
