package io.tidesync.spi;

import java.util.List;

/**
 * Where changes come from: a Delta table, Postgres logical replication, or a host's own system.
 * An immutable description; {@link #open} does the I/O.
 *
 * <p>Implementations must be thread safe to share between pipelines; the readers they open are
 * used by one thread at a time.
 */
public interface ChangeSource {

  /**
   * Problems with this source's settings, each a sentence naming the setting and the fix; empty
   * when valid. Called by {@code SyncPipeline.Builder.build()}, which does no I/O: neither may
   * this method.
   */
  List<String> validate();

  /**
   * Opens a reader that starts after {@code request.start()} (the position the sink committed),
   * or with a snapshot when there is none or the mode asks for one. Called on the pipeline's
   * worker thread at the start of each run.
   *
   * @throws io.tidesync.SourcePositionLostException if the start position can no longer be read
   *     and the user did not opt in to a new snapshot
   * @throws io.tidesync.TidesyncException for anything else that prevents reading
   */
  ChangeReader open(ReadRequest request, SourceContext context);

  /** A short description for logs and messages, such as {@code delta table file:/lake/orders}. */
  String describe();
}
