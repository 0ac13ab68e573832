package io.tidesync.internal;

import io.tidesync.TidesyncException;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.Position;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;

/**
 * Reads the next batch while the sink applies the current one. Every call to the reader (poll,
 * acknowledge, close) runs on one reader thread, in submission order, so a reader is still used by
 * one thread at a time; an acknowledgement is queued behind the poll in flight, which is after the
 * sink's commit as required. At most two batches exist at once: the one being applied and the one
 * read ahead (the pipeline's memory limit allows for both).
 */
final class ReadAhead implements AutoCloseable {
  private final ChangeReader reader;
  private final ExecutorService thread;
  private Future<ChangeBatch> next;

  ReadAhead(ChangeReader reader, ThreadFactory threadFactory) {
    this.reader = reader;
    this.thread = Executors.newSingleThreadExecutor(threadFactory);
  }

  /** The next batch (null when caught up); starts reading the one after it. */
  ChangeBatch take() {
    Future<ChangeBatch> f = next != null ? next : thread.submit(reader::poll);
    next = null;
    ChangeBatch batch = await(f);
    if (batch != null) {
      next = thread.submit(reader::poll);
    }
    return batch;
  }

  /** Acknowledges on the reader thread, after the poll in flight; waits for it. */
  void acknowledge(Position position) {
    await(thread.submit(() -> {
      reader.acknowledge(position);
      return null;
    }));
  }

  /** Drops a batch read ahead (it was not applied, so it is read again next run) and closes the reader. */
  @Override
  public void close() {
    try {
      if (next != null) {
        try {
          ChangeBatch unused = await(next);
          if (unused != null) {
            unused.close();
          }
        } catch (RuntimeException ignored) {
          // the batch was never going to be applied; the reader's own failure is reported by close below
        }
        next = null;
      }
      await(thread.submit((Callable<Void>) () -> {
        reader.close();
        return null;
      }));
    } finally {
      thread.shutdownNow();
    }
  }

  private static <T> T await(Future<T> f) {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return f.get();
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          Throwable c = e.getCause();
          if (c instanceof RuntimeException re) {
            throw re;
          }
          if (c instanceof Error err) {
            throw err;
          }
          throw new TidesyncException("cannot read: " + c, c);
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
