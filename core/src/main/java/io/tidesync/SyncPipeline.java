package io.tidesync;

import io.tidesync.internal.PipelineRunner;
import io.tidesync.spi.ChangeSink;
import io.tidesync.spi.ChangeSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadFactory;

/**
 * Moves changes from one {@link ChangeSource} to one {@link ChangeSink}, exactly once.
 *
 * <pre>{@code
 * SyncPipeline pipeline = SyncPipeline.builder("user-profiles")
 *     .source(DeltaChangeSource.forPath("/lake/gold/user_profiles"))
 *     .sink(PostgresSink.forTable("public.user_profiles").dataSource(dataSource).primaryKey("user_id"))
 *     .mode(SyncMode.TRIGGERED)
 *     .build();                       // validates every setting; no I/O, no threads
 * SyncResult result = pipeline.runOnce();
 * }</pre>
 *
 * <p>Each run asks the sink for its committed position, opens the source there, and hands every
 * batch to the sink, which commits the batch's end position with its data; the source is
 * acknowledged only after that commit. A run interrupted at any point is resumed by the next one
 * without losing or repeating a change.
 *
 * <p>{@link #runOnce()} runs on the calling thread; {@link #start()} runs {@link SyncMode#CONTINUOUS}
 * pipelines on one worker thread made by the builder's {@link ThreadFactory}. {@link #close()} is
 * idempotent and may be called from any thread. Memory is bounded by one Arrow allocator per
 * pipeline with a hard limit.
 */
public final class SyncPipeline implements AutoCloseable {
  private final PipelineRunner runner;

  private SyncPipeline(Builder b) {
    this.runner = new PipelineRunner(b.name, b.source, b.sink, b.mode, b.memoryLimitBytes, b.maxBatchRows,
        b.maxBatchBytes, b.pollInterval, b.maxRetries, b.retryBackoff, b.maxRetryBackoff, b.threadFactory,
        b.readAhead, List.copyOf(b.listeners));
  }

  /** Starts describing a pipeline. {@code name} keys the committed position in the sink. */
  public static Builder builder(String name) {
    return new Builder(name);
  }

  public String name() {
    return runner.name();
  }

  public SyncMode mode() {
    return runner.mode();
  }

  public SyncStatus status() {
    return runner.status();
  }

  /**
   * One run on the calling thread: SNAPSHOT copies the table; TRIGGERED and CONTINUOUS apply every
   * change from the committed position up to what the source has now, and return.
   *
   * @throws IllegalStateException if the pipeline is running or closed
   * @throws TidesyncException if the run failed after retries; the committed position is that of
   *     the last batch made durable
   */
  public SyncResult runOnce() {
    return runner.runOnce();
  }

  /**
   * Starts the continuous loop on a worker thread and returns. Only for {@link SyncMode#CONTINUOUS}.
   *
   * @throws IllegalStateException in another mode, or if already started or closed
   */
  public void start() {
    runner.start();
  }

  /** The result of the last finished run (or catch-up round), if any. */
  public java.util.Optional<SyncResult> lastResult() {
    return runner.lastResult();
  }

  /** The error that stopped a continuous pipeline ({@link SyncStatus#FAILED}), if any. */
  public java.util.Optional<TidesyncException> failure() {
    return runner.failure();
  }

  /**
   * Stops the pipeline: the batch in flight finishes (committed and acknowledged, or rolled back),
   * the worker thread ends, connections and memory are released. Idempotent, any thread.
   */
  @Override
  public void close() {
    runner.close();
  }

  @Override
  public String toString() {
    return "SyncPipeline[" + runner.name() + ", " + runner.mode() + ", " + runner.status() + "]";
  }

  /** Describes a pipeline; {@link #build()} validates everything at once. Not thread safe. */
  public static final class Builder {
    private final String name;
    private ChangeSource source;
    private ChangeSink sink;
    private SyncMode mode = SyncMode.TRIGGERED;
    private long memoryLimitBytes = 512L << 20;
    private int maxBatchRows = 65_536;
    private long maxBatchBytes = 64L << 20;
    private Duration pollInterval = Duration.ofSeconds(1);
    private int maxRetries = 5;
    private Duration retryBackoff = Duration.ofMillis(500);
    private Duration maxRetryBackoff = Duration.ofSeconds(60);
    private ThreadFactory threadFactory;
    private boolean readAhead = true;
    private final List<SyncListener> listeners = new ArrayList<>();

    private Builder(String name) {
      this.name = name;
    }

    /** Where changes come from. Required. */
    public Builder source(ChangeSource source) {
      this.source = source;
      return this;
    }

    /** Where changes go. Required. */
    public Builder sink(ChangeSink sink) {
      this.sink = sink;
      return this;
    }

    /** SNAPSHOT, TRIGGERED (default) or CONTINUOUS. */
    public Builder mode(SyncMode mode) {
      this.mode = mode;
      return this;
    }

    /** Hard limit on the Arrow memory of all batches in flight (default 512 MiB). */
    public Builder memoryLimitBytes(long bytes) {
      this.memoryLimitBytes = bytes;
      return this;
    }

    /** At most this many rows per batch (default 65,536). */
    public Builder maxBatchRows(int rows) {
      this.maxBatchRows = rows;
      return this;
    }

    /** About this many bytes per batch at most (default 64 MiB); must be below the memory limit. */
    public Builder maxBatchBytes(long bytes) {
      this.maxBatchBytes = bytes;
      return this;
    }

    /**
     * How long a continuous pipeline waits after catching up before it polls again (default 1 s:
     * changes are visible in the target about a second after their commit; for a Delta source on
     * object storage each poll lists the log, so raise it where listing costs).
     */
    public Builder pollInterval(Duration interval) {
      this.pollInterval = interval;
      return this;
    }

    /**
     * How often a step that failed with a retryable error is tried again (default 5), the first
     * wait (default 500 ms, doubling each time) and the longest wait (default 60 s).
     */
    public Builder retries(int maxRetries, Duration initialBackoff, Duration maxBackoff) {
      this.maxRetries = maxRetries;
      this.retryBackoff = initialBackoff;
      this.maxRetryBackoff = maxBackoff;
      return this;
    }

    /**
     * Makes the pipeline's threads: the worker of {@link SyncPipeline#start()} and the read-ahead
     * reader thread of each run (default: daemon threads named after the pipeline).
     */
    public Builder threadFactory(ThreadFactory factory) {
      this.threadFactory = factory;
      return this;
    }

    /**
     * Whether the source reads the next batch while the sink applies the current one (default
     * true). Reading runs on a second thread from the thread factory; at most two batches are in
     * memory at once, which {@code maxBatchBytes <= memoryLimitBytes / 2} allows for.
     */
    public Builder readAhead(boolean enabled) {
      this.readAhead = enabled;
      return this;
    }

    /** Adds a listener for progress and failures. */
    public Builder listener(SyncListener listener) {
      this.listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    /**
     * Checks every setting, including the source's and the sink's, and returns the pipeline. Does
     * no I/O and starts no thread.
     *
     * @throws ConfigurationException listing every problem found
     */
    public SyncPipeline build() {
      List<String> problems = new ArrayList<>();
      String subject = name == null || name.isBlank() ? "pipeline" : "pipeline '" + name + "'";
      if (name == null || name.isBlank()) {
        problems.add("name is empty: give the pipeline a stable name (it keys the committed position in the sink)");
      } else if (name.length() > 200 || name.chars().anyMatch(ch -> ch < 0x20)) {
        problems.add("name must be 1..200 printable characters");
      }
      if (source == null) {
        problems.add("no source: call source(..), e.g. DeltaChangeSource.forPath(..)");
      } else {
        problems.addAll(prefixed("source", source.validate()));
      }
      if (sink == null) {
        problems.add("no sink: call sink(..), e.g. PostgresSink.forTable(..)");
      } else {
        problems.addAll(prefixed("sink", sink.validate()));
      }
      if (mode == null) {
        problems.add("mode is null: choose SNAPSHOT, TRIGGERED or CONTINUOUS");
      }
      if (maxBatchRows < 1) {
        problems.add("maxBatchRows is " + maxBatchRows + ": it must be at least 1");
      }
      if (memoryLimitBytes < (1L << 20)) {
        problems.add("memoryLimitBytes is " + memoryLimitBytes + ": it must be at least 1 MiB");
      }
      if (maxBatchBytes < 1024 || maxBatchBytes > memoryLimitBytes / 2) {
        problems.add("maxBatchBytes is " + maxBatchBytes + ": it must be at least 1 KiB and at most half of memoryLimitBytes ("
            + memoryLimitBytes / 2 + ") so a batch can be built while another is applied");
      }
      if (pollInterval == null || pollInterval.isNegative() || pollInterval.isZero()) {
        problems.add("pollInterval must be positive");
      }
      if (maxRetries < 0) {
        problems.add("maxRetries is " + maxRetries + ": it must be 0 or more");
      }
      if (retryBackoff == null || retryBackoff.isNegative() || maxRetryBackoff == null || maxRetryBackoff.compareTo(
          retryBackoff == null ? Duration.ZERO : retryBackoff) < 0) {
        problems.add("retry backoff must be non-negative, with the longest wait at least the first");
      }
      if (!problems.isEmpty()) {
        throw ConfigurationException.of(subject, problems);
      }
      return new SyncPipeline(this);
    }

    private static List<String> prefixed(String what, List<String> problems) {
      List<String> out = new ArrayList<>();
      for (String p : problems) {
        out.add(what + ": " + p);
      }
      return out;
    }
  }
}
