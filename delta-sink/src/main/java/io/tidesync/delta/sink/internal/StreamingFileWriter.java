package io.tidesync.delta.sink.internal;

import io.delta.kernel.DataWriteContext;
import io.delta.kernel.Transaction;
import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.data.Row;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.DataFileStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;

/**
 * Keeps one Kernel {@code writeParquetFiles} call open across several batches, so that the rows
 * of a source transaction split over many batches land in files of the target size instead of one
 * file per batch.
 *
 * <p>Kernel's Parquet writer pulls batches from an iterator; this class runs that call on its own
 * thread and feeds the iterator from {@link #write}, which returns only once Kernel asked for the
 * next batch, i.e. has written every row of this one: the caller may then release the batch's
 * buffers. Memory stays at one batch plus the Parquet writer's open row group. Used by one
 * caller thread at a time.
 */
final class StreamingFileWriter implements AutoCloseable {
  private static final Object END = new Object();

  private final SynchronousQueue<Object> handoff = new SynchronousQueue<>();
  private final Semaphore consumed = new Semaphore(0);
  private final List<DataFileStatus> files = new ArrayList<>();
  private final Thread thread;
  private volatile Throwable failure;
  private volatile boolean done;
  private boolean ended;

  StreamingFileWriter(Engine engine, Row txnState, DataWriteContext ctx, java.util.concurrent.ThreadFactory threads) {
    CloseableIterator<FilteredColumnarBatch> input = new CloseableIterator<>() {
      private Object next;
      private boolean first = true;
      private boolean finished;

      @Override
      public boolean hasNext() {
        if (finished) {
          return false;
        }
        if (next == null) {
          if (!first) {
            consumed.release(); // Kernel finished the previous batch
          }
          first = false;
          try {
            next = handoff.take();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the next batch", e);
          }
          if (next == END) {
            finished = true;
            return false;
          }
        }
        return true;
      }

      @Override
      public FilteredColumnarBatch next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        Object n = next;
        next = null;
        return new FilteredColumnarBatch((ColumnarBatch) n, Optional.empty());
      }

      @Override
      public void close() {}
    };
    this.thread = threads.newThread(() -> {
      try (CloseableIterator<DataFileStatus> out = engine.getParquetHandler().writeParquetFiles(ctx.getTargetDirectory(),
          Transaction.transformLogicalData(engine, txnState, input, Map.of()), ctx.getStatisticsColumns())) {
        while (out.hasNext()) {
          files.add(out.next());
        }
      } catch (Throwable t) {
        failure = t;
      } finally {
        done = true;
        consumed.release();
      }
    });
    thread.start();
  }

  /** Hands a batch to the writer and waits until every row of it is written (or the writer failed). */
  void write(ColumnarBatch batch) throws Exception {
    offer(batch);
    consumed.acquire();
    rethrow();
  }

  /** Ends the input and returns the files written, once the last one is closed. */
  List<DataFileStatus> finish() throws Exception {
    offer(END);
    ended = true;
    thread.join();
    rethrow();
    return files;
  }

  private void offer(Object o) throws Exception {
    while (!handoff.offer(o, 50, TimeUnit.MILLISECONDS)) {
      if (done) {
        rethrow();
        throw new IllegalStateException("the Parquet writer thread ended early");
      }
    }
  }

  private void rethrow() throws Exception {
    Throwable t = failure;
    if (t instanceof Exception e) {
      throw e;
    } else if (t instanceof Error e) {
      throw e;
    }
  }

  /** Stops the writer thread after a failure; files already written stay behind, unreferenced. */
  @Override
  public void close() {
    if (!ended) {
      ended = true;
      try {
        while (!done && !handoff.offer(END, 50, TimeUnit.MILLISECONDS)) {
          // the writer thread is busy or already ending
        }
        thread.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
