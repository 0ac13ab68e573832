package io.tidesync.spi;

import io.tidesync.SyncMode;
import java.util.Objects;
import java.util.concurrent.ThreadFactory;

/**
 * What a pipeline tells a sink's applier.
 *
 * @param pipelineName the pipeline's name; sinks key the committed position by it
 * @param mode the pipeline's mode
 * @param sourceDescription the source's {@link ChangeSource#describe()}, for messages
 * @param threadFactory where a sink gets any thread it needs (the host's, when it gave the
 *     pipeline one)
 */
public record SinkContext(String pipelineName, SyncMode mode, String sourceDescription, ThreadFactory threadFactory) {
  public SinkContext {
    Objects.requireNonNull(threadFactory, "threadFactory");
  }

  /** A context whose threads are daemon threads named after the pipeline. */
  public SinkContext(String pipelineName, SyncMode mode, String sourceDescription) {
    this(pipelineName, mode, sourceDescription, r -> {
      Thread t = new Thread(r, "tidesync-" + pipelineName + "-sink");
      t.setDaemon(true);
      return t;
    });
  }
}
