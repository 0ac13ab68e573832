package io.tidesync.internal;

import io.tidesync.SyncListener;
import io.tidesync.SyncMode;
import io.tidesync.SyncResult;
import io.tidesync.SyncStatus;
import io.tidesync.TidesyncException;
import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.ChangeSink;
import io.tidesync.spi.ChangeSource;
import io.tidesync.spi.Position;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SinkContext;
import io.tidesync.spi.SourceContext;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.OutOfMemoryException;
import org.apache.arrow.memory.RootAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The loop behind {@link io.tidesync.SyncPipeline}: read, apply with position, acknowledge; retries. */
public final class PipelineRunner {
  private static final Logger LOG = LoggerFactory.getLogger(PipelineRunner.class);
  private static final AtomicInteger THREAD_SEQ = new AtomicInteger();

  private final String name;
  private final ChangeSource source;
  private final ChangeSink sink;
  private final SyncMode mode;
  private final long memoryLimitBytes;
  private final int maxBatchRows;
  private final long maxBatchBytes;
  private final Duration pollInterval;
  private final int maxRetries;
  private final Duration retryBackoff;
  private final Duration maxRetryBackoff;
  private final ThreadFactory threadFactory;
  private final boolean readAhead;
  private final List<SyncListener> listeners;

  private final AtomicReference<SyncStatus> status = new AtomicReference<>(SyncStatus.CREATED);
  private final AtomicReference<SyncResult> lastResult = new AtomicReference<>();
  private final AtomicReference<TidesyncException> failure = new AtomicReference<>();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wakeUp = lock.newCondition();
  private volatile boolean stopRequested;
  private volatile Thread worker;
  private final AtomicReference<Thread> runner = new AtomicReference<>();
  private BufferAllocator allocator;

  public PipelineRunner(String name, ChangeSource source, ChangeSink sink, SyncMode mode, long memoryLimitBytes,
      int maxBatchRows, long maxBatchBytes, Duration pollInterval, int maxRetries, Duration retryBackoff,
      Duration maxRetryBackoff, ThreadFactory threadFactory, boolean readAhead, List<SyncListener> listeners) {
    this.name = name;
    this.source = source;
    this.sink = sink;
    this.mode = mode;
    this.memoryLimitBytes = memoryLimitBytes;
    this.maxBatchRows = maxBatchRows;
    this.maxBatchBytes = maxBatchBytes;
    this.pollInterval = pollInterval;
    this.maxRetries = maxRetries;
    this.retryBackoff = retryBackoff;
    this.maxRetryBackoff = maxRetryBackoff;
    this.threadFactory = threadFactory != null ? threadFactory : r -> {
      Thread t = new Thread(r, "tidesync-" + name + "-" + THREAD_SEQ.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
    this.readAhead = readAhead;
    this.listeners = listeners;
  }

  public String name() {
    return name;
  }

  public SyncMode mode() {
    return mode;
  }

  public SyncStatus status() {
    return status.get();
  }

  public Optional<SyncResult> lastResult() {
    return Optional.ofNullable(lastResult.get());
  }

  public Optional<TidesyncException> failure() {
    return Optional.ofNullable(failure.get());
  }

  public SyncResult runOnce() {
    if (!status.compareAndSet(SyncStatus.CREATED, SyncStatus.RUNNING)) {
      throw new IllegalStateException(name + ": cannot run: the pipeline is " + status.get());
    }
    runner.set(Thread.currentThread());
    try {
      return withRetries(this::runRound);
    } finally {
      status.compareAndSet(SyncStatus.RUNNING, SyncStatus.CREATED);
      releaseMemoryIfIdle();
      synchronized (runner) {
        runner.set(null);
        runner.notifyAll();
      }
    }
  }

  public void start() {
    if (mode != SyncMode.CONTINUOUS) {
      throw new IllegalStateException(name + ": cannot start: start() runs CONTINUOUS pipelines; this one is " + mode
          + ". Use runOnce()");
    }
    if (!status.compareAndSet(SyncStatus.CREATED, SyncStatus.RUNNING)) {
      throw new IllegalStateException(name + ": cannot start: the pipeline is " + status.get());
    }
    Thread t = threadFactory.newThread(this::continuousLoop);
    worker = t;
    t.start();
    LOG.info("{}: started continuous sync from {} to {}", name, source.describe(), sink.describe());
  }

  private void continuousLoop() {
    int failures = 0;
    while (!stopRequested) {
      try (Session session = openSession()) {
        while (!stopRequested) {
          SyncResult r = session.catchUp();
          failures = 0;
          if (r.batches() > 0) {
            finished(r);
          }
          sleep(pollInterval);
        }
      } catch (RuntimeException e) {
        TidesyncException te = wrap(e);
        if (!retryAfter(te, failures++)) {
          if (!stopRequested) {
            failure.set(te);
            status.set(SyncStatus.FAILED);
            LOG.error("{}: stopped: {}", name, te.getMessage(), te);
          }
          return;
        }
      }
    }
  }

  private SyncResult withRetries(java.util.function.Supplier<SyncResult> attempt) {
    for (int failures = 0; ; failures++) {
      try {
        SyncResult r = attempt.get();
        finished(r);
        return r;
      } catch (RuntimeException e) {
        TidesyncException te = wrap(e);
        if (!retryAfter(te, failures)) {
          throw te;
        }
      }
    }
  }

  /**
   * The one retry rule: retryable errors, up to maxRetries, not while stopping. Tells listeners,
   * and when retrying logs and waits the backoff; returns whether to retry.
   */
  private boolean retryAfter(TidesyncException te, int failuresBefore) {
    boolean retry = te.isRetryable() && failuresBefore < maxRetries && !stopRequested;
    notifyFailure(te, retry);
    if (retry) {
      LOG.warn("{}: {} (retry {} of {})", name, te.getMessage(), failuresBefore + 1, maxRetries);
      sleep(backoff(failuresBefore));
    }
    return retry;
  }

  private SyncResult runRound() {
    try (Session session = openSession()) {
      return session.catchUp();
    }
  }

  private Session openSession() {
    BufferAllocator alloc;
    lock.lock();
    try {
      if (allocator == null) {
        allocator = new RootAllocator(memoryLimitBytes);
      }
      alloc = allocator;
    } finally {
      lock.unlock();
    }
    return new Session(alloc);
  }

  /** One opened applier and reader; closed after a run or a failure. */
  private final class Session implements AutoCloseable {
    private final ChangeApplier applier;
    private final ChangeReader reader;
    private final ReadAhead readAhead;
    private final Optional<Position> opened;
    private Optional<Position> committed;

    Session(BufferAllocator alloc) {
      ChangeApplier a = sink.open(new SinkContext(name, mode, source.describe(), threadFactory));
      try {
        this.opened = a.committedPosition();
        this.committed = opened;
        LOG.info("{}: opening {} at {}", name, source.describe(), opened.map(Position::toString).orElse("the beginning"));
        this.reader = source.open(new ReadRequest(mode, opened), new SourceContext(name, alloc, maxBatchRows, maxBatchBytes));
      } catch (RuntimeException e) {
        closeQuietly(a);
        throw e;
      }
      this.applier = a;
      this.readAhead = PipelineRunner.this.readAhead ? new ReadAhead(reader, threadFactory) : null;
    }

    private ChangeBatch next() {
      return readAhead != null ? readAhead.take() : reader.poll();
    }

    SyncResult catchUp() {
      Instant started = Instant.now();
      long nanos = System.nanoTime();
      Optional<Position> from = committed;
      ApplyResult total = ApplyResult.NONE;
      long batches = 0;
      boolean snapshot = false;
      while (!stopRequested) {
        ChangeBatch batch = next();
        if (batch == null) {
          break;
        }
        try (batch) {
          ApplyResult r = applier.apply(batch);
          total = total.plus(r);
          batches++;
          snapshot |= batch.type() == BatchType.SNAPSHOT;
          if (!batch.isPartial()) {
            committed = Optional.of(batch.endPosition());
            if (readAhead != null) {
              readAhead.acknowledge(batch.endPosition());
            } else {
              reader.acknowledge(batch.endPosition());
            }
          }
          LOG.debug("{}: applied {}: {}", name, batch, r);
          for (SyncListener l : listeners) {
            try {
              l.onBatchApplied(batch, r);
            } catch (RuntimeException e) {
              LOG.warn("{}: listener failed on batch: {}", name, e.toString());
            }
          }
        }
      }
      return new SyncResult(name, mode, from, committed, snapshot, batches, total.inserted(), total.updated(),
          total.deleted(), total.skipped(), started, Duration.ofNanos(System.nanoTime() - nanos));
    }

    @Override
    public void close() {
      closeQuietly(readAhead != null ? readAhead : reader);
      closeQuietly(applier);
    }
  }

  private void finished(SyncResult r) {
    lastResult.set(r);
    LOG.info("{}: {}", name, r);
    for (SyncListener l : listeners) {
      try {
        l.onRunFinished(r);
      } catch (RuntimeException e) {
        LOG.warn("{}: listener failed on run result: {}", name, e.toString());
      }
    }
  }

  private void notifyFailure(TidesyncException e, boolean willRetry) {
    for (SyncListener l : listeners) {
      try {
        l.onFailure(e, willRetry);
      } catch (RuntimeException ex) {
        LOG.warn("{}: listener failed on failure: {}", name, ex.toString());
      }
    }
  }

  private TidesyncException wrap(RuntimeException e) {
    if (e instanceof TidesyncException te) {
      return te;
    }
    if (e instanceof OutOfMemoryException) {
      return new TidesyncException(name + ": cannot read a batch: the pipeline's memory limit of " + memoryLimitBytes
          + " bytes was reached (" + e.getMessage() + "). Lower maxBatchRows/maxBatchBytes or raise memoryLimitBytes", e);
    }
    return new TidesyncException(name + ": cannot sync " + source.describe() + " to " + sink.describe()
        + ": unexpected " + e.getClass().getSimpleName() + ": " + e.getMessage(), e);
  }

  private Duration backoff(int failures) {
    long ms = retryBackoff.toMillis() << Math.min(failures, 20);
    return Duration.ofMillis(Math.min(ms, maxRetryBackoff.toMillis()));
  }

  private void sleep(Duration d) {
    lock.lock();
    try {
      long nanos = d.toNanos();
      while (!stopRequested && nanos > 0) {
        nanos = wakeUp.awaitNanos(nanos);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stopRequested = true;
    } finally {
      lock.unlock();
    }
  }

  private void releaseMemoryIfIdle() {
    lock.lock();
    try {
      if (allocator != null && status.get() != SyncStatus.RUNNING) {
        closeAllocator();
      }
    } finally {
      lock.unlock();
    }
  }

  private void closeAllocator() {
    long leaked = allocator.getAllocatedMemory();
    if (leaked != 0) {
      LOG.warn("{}: {} bytes of batch memory were not released: a source or sink did not close a batch", name, leaked);
    } else {
      allocator.close();
    }
    allocator = null;
  }

  public void close() {
    SyncStatus s = status.get();
    if (s == SyncStatus.CLOSED) {
      return;
    }
    stopRequested = true;
    if (s == SyncStatus.RUNNING) {
      status.compareAndSet(SyncStatus.RUNNING, SyncStatus.STOPPING);
    }
    lock.lock();
    try {
      wakeUp.signalAll();
    } finally {
      lock.unlock();
    }
    Thread t = worker;
    if (t != null && t != Thread.currentThread()) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    // a runOnce() on another thread finishes its batch and returns before memory is released
    synchronized (runner) {
      while (runner.get() != null && runner.get() != Thread.currentThread()) {
        try {
          runner.wait(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    lock.lock();
    try {
      status.set(SyncStatus.CLOSED);
      if (allocator != null) {
        closeAllocator();
      }
    } finally {
      lock.unlock();
    }
    LOG.info("{}: closed", name);
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception e) {
      LOG.warn("close failed: {}", e.toString());
    }
  }
}
