package io.tidesync.spi;

import java.util.List;

/**
 * Where changes go: a Postgres table, a Delta history table, or a host's own system. An immutable
 * description; {@link #open} does the I/O.
 *
 * <p>The sink owns the position: it commits each batch's end position atomically with the batch's
 * data, and reports it back through {@link ChangeApplier#committedPosition}, so that a pipeline
 * restarted at any instant neither loses nor repeats a change.
 */
public interface ChangeSink {

  /**
   * Problems with this sink's settings, each a sentence naming the setting and the fix; empty when
   * valid. Called by {@code SyncPipeline.Builder.build()}: no I/O.
   */
  List<String> validate();

  /**
   * Opens an applier for one run. Called on the pipeline's worker thread.
   *
   * @throws io.tidesync.TidesyncException if the target cannot be reached or prepared
   */
  ChangeApplier open(SinkContext context);

  /** A short description for logs and messages, such as {@code postgres table public.orders}. */
  String describe();
}
