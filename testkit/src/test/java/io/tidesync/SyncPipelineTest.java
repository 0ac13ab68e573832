package io.tidesync;

import static io.tidesync.testkit.Change.delete;
import static io.tidesync.testkit.Change.insert;
import static io.tidesync.testkit.Change.row;
import static io.tidesync.testkit.Change.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.Position;
import io.tidesync.spi.TableId;
import io.tidesync.spi.TableSchema;
import io.tidesync.testkit.Change;
import io.tidesync.testkit.InMemoryChangeSink;
import io.tidesync.testkit.InMemoryChangeSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class SyncPipelineTest {
  static final TableSchema SCHEMA = TableSchema.of(List.of(
      new Column("id", LogicalType.of(LogicalType.Kind.INT64), false),
      Column.of("name", LogicalType.of(LogicalType.Kind.STRING)),
      Column.of("score", LogicalType.decimal(10, 2))), List.of("id"));
  static final TableId TABLE = TableId.of("lake", "people");

  static InMemoryChangeSource source() {
    return InMemoryChangeSource.of("mem://people", TABLE, SCHEMA);
  }

  static Map<String, Object> person(long id, String name) {
    return row("id", id, "name", name, "score", new java.math.BigDecimal("1.50"));
  }

  static SyncPipeline.Builder pipeline(String name, InMemoryChangeSource src, InMemoryChangeSink sink) {
    return SyncPipeline.builder(name).source(src).sink(sink).retries(0, Duration.ZERO, Duration.ZERO);
  }

  @Test
  void buildListsEveryProblemAtOnce() {
    assertThatThrownBy(() -> SyncPipeline.builder(" ").maxBatchRows(0).memoryLimitBytes(10).build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("pipeline: invalid configuration (6 problems): 1) name is empty")
        .hasMessageContaining("no source: call source(..)")
        .hasMessageContaining("no sink: call sink(..)")
        .hasMessageContaining("maxBatchRows is 0: it must be at least 1")
        .hasMessageContaining("memoryLimitBytes is 10: it must be at least 1 MiB")
        .hasMessageContaining("6) maxBatchBytes is 67108864: it must be at least 1 KiB and at most half of memoryLimitBytes (5)")
        .satisfies(e -> assertThat(((ConfigurationException) e).problems()).hasSize(6));
  }

  @Test
  void buildIncludesTheSinksOwnProblems() {
    assertThatThrownBy(() -> SyncPipeline.builder("p").source(source()).sink(InMemoryChangeSink.keyedBy()).build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("pipeline 'p': invalid configuration (1 problem): 1) sink: no primary key: pass key columns to keyedBy(..)");
  }

  @Test
  void triggeredSnapshotsFirstThenAppliesChangesAndAcknowledgesAfterCommit() {
    InMemoryChangeSource src = source();
    src.commit(insert(person(1, "a")), insert(person(2, "b")));
    src.commit(update(person(1, "a2")));
    InMemoryChangeSink sink = InMemoryChangeSink.keyedBy("id");
    try (SyncPipeline p = pipeline("people", src, sink).build()) {
      SyncResult first = p.runOnce();
      assertThat(first.snapshot()).isTrue();
      assertThat(first.inserted()).isEqualTo(2);
      assertThat(first.startPosition()).isEmpty();
      assertThat(first.endPosition()).contains(Position.of("mem://people", 1));

      src.commit(delete(person(2, "b")), insert(person(3, "c")));
      src.commit(update(person(3, "c2")));
      SyncResult second = p.runOnce();
      assertThat(second.snapshot()).isFalse();
      assertThat(second.startPosition()).contains(Position.of("mem://people", 1));
      assertThat(second.endPosition()).contains(Position.of("mem://people", 3));
      assertThat(List.of(second.inserted(), second.updated(), second.deleted())).containsExactly(1L, 1L, 1L);
      assertThat(sink.rows("people")).isEqualTo(src.stateAt(3));
      assertThat(src.acknowledged()).containsExactly(Position.of("mem://people", 1), Position.of("mem://people", 3));

      SyncResult idle = p.runOnce();
      assertThat(idle.batches()).isZero();
      assertThat(idle.endPosition()).contains(Position.of("mem://people", 3));
    }
  }

  @Test
  void snapshotModeCopiesEveryRun() {
    InMemoryChangeSource src = source();
    src.commit(insert(person(1, "a")));
    InMemoryChangeSink sink = InMemoryChangeSink.keyedBy("id");
    try (SyncPipeline p = pipeline("snap", src, sink).mode(SyncMode.SNAPSHOT).build()) {
      assertThat(p.runOnce().snapshot()).isTrue();
      src.commit(delete(person(1, "a")), insert(person(5, "e")));
      SyncResult r = p.runOnce();
      assertThat(r.snapshot()).isTrue();
      assertThat(sink.rows("snap")).containsOnlyKeys(List.of(5L));
    }
  }

  @Test
  void aFailureAtAnyStepLosesAndRepeatsNothing() {
    for (InMemoryChangeSink.Fault fault : InMemoryChangeSink.Fault.values()) {
      InMemoryChangeSource src = source();
      src.commit(insert(person(1, "a")));
      InMemoryChangeSink sink = InMemoryChangeSink.keyedBy("id");
      try (SyncPipeline p = pipeline("f", src, sink).build()) {
        p.runOnce();
        src.commit(insert(person(2, "b")), update(person(1, "a2")));
        sink.failAt(fault);
        assertThatThrownBy(p::runOnce).isInstanceOf(ApplyFailedException.class)
            .hasMessage("in-memory sink: cannot apply: injected failure " + fault);
        // a failed batch is never acknowledged, whatever the sink managed to commit
        assertThat(src.acknowledged()).containsExactly(Position.of("mem://people", 0));
        SyncResult retry = p.runOnce();
        assertThat(retry.batches()).as(fault.name()).isEqualTo(fault == InMemoryChangeSink.Fault.AFTER_COMMIT ? 0 : 1);
        assertThat(sink.rows("f")).as(fault.name()).isEqualTo(src.stateAt(1));
        assertThat(sink.position("f")).contains(Position.of("mem://people", 1));
      }
    }
  }

  @Test
  void retryableSourceFailuresAreRetriedWithBackoff() {
    InMemoryChangeSource src = source();
    src.commit(insert(person(1, "a")));
    InMemoryChangeSink sink = InMemoryChangeSink.keyedBy("id");
    List<Boolean> retries = new CopyOnWriteArrayList<>();
    try (SyncPipeline p = SyncPipeline.builder("r").source(src).sink(sink)
        .retries(3, Duration.ofMillis(1), Duration.ofMillis(4))
        .listener(new SyncListener() {
          @Override
          public void onFailure(TidesyncException error, boolean willRetry) {
            retries.add(willRetry);
          }
        }).build()) {
      src.failNextPolls(2, true);
      assertThat(p.runOnce().inserted()).isEqualTo(1);
      assertThat(retries).containsExactly(true, true);
      assertThat(sink.openCount()).isEqualTo(3);

      src.failNextPolls(1, false);
      assertThatThrownBy(p::runOnce).isInstanceOf(TidesyncException.class)
          .hasMessage("in-memory source mem://people: cannot read: injected failure");
      assertThat(retries).containsExactly(true, true, false);
    }
  }

  @Test
  void continuousPipelineFollowsNewCommitsAndStopsCleanly() {
    InMemoryChangeSource src = source();
    src.commit(insert(person(1, "a")));
    InMemoryChangeSink sink = InMemoryChangeSink.keyedBy("id");
    List<Thread> threads = new ArrayList<>();
    SyncPipeline p = pipeline("c", src, sink).mode(SyncMode.CONTINUOUS).pollInterval(Duration.ofMillis(20))
        .threadFactory(r -> {
          Thread t = new Thread(r, "test-worker");
          threads.add(t);
          return t;
        }).build();
    p.start();
    assertThat(p.status()).isEqualTo(SyncStatus.RUNNING);
    assertThatThrownBy(p::runOnce).isInstanceOf(IllegalStateException.class).hasMessage("c: cannot run: the pipeline is RUNNING");
    await().atMost(Duration.ofSeconds(10)).until(() -> sink.rows("c").size() == 1);
    src.commit(insert(person(2, "b")));
    src.commit(delete(person(1, "a")));
    await().atMost(Duration.ofSeconds(10)).until(() -> sink.rows("c").equals(src.stateAt(2)));
    p.close();
    p.close();
    assertThat(p.status()).isEqualTo(SyncStatus.CLOSED);
    assertThat(threads).as("the worker and the read-ahead reader thread come from the factory").hasSize(2);
    assertThat(threads).noneMatch(Thread::isAlive);
    assertThatThrownBy(p::start).isInstanceOf(IllegalStateException.class).hasMessage("c: cannot start: the pipeline is CLOSED");
  }

  @Test
  void closeFromAnotherThreadWaitsForARunningRunOnce() throws Exception {
    InMemoryChangeSource src = source();
    for (int v = 0; v < 200; v++) {
      src.commit(insert(person(v, "n" + v)));
    }
    InMemoryChangeSink sink = InMemoryChangeSink.keyedBy("id");
    java.util.concurrent.CountDownLatch firstBatch = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.atomic.AtomicBoolean hold = new java.util.concurrent.atomic.AtomicBoolean();
    SyncPipeline p = pipeline("close", src, sink).maxBatchRows(1).listener(new SyncListener() {
      @Override
      public void onBatchApplied(ChangeBatch batch, ApplyResult result) {
        if (!hold.get()) {
          return;
        }
        firstBatch.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }).build();
    p.runOnce(); // the snapshot
    for (int v = 200; v < 260; v++) {
      src.commit(insert(person(v, "n" + v)));
    }
    hold.set(true);
    java.util.concurrent.atomic.AtomicReference<SyncResult> result = new java.util.concurrent.atomic.AtomicReference<>();
    Thread run = new Thread(() -> result.set(p.runOnce()));
    run.start();
    firstBatch.await();
    Thread closer = new Thread(p::close);
    closer.start();
    await().atMost(Duration.ofSeconds(5)).until(() -> p.status() == SyncStatus.STOPPING);
    assertThat(closer.isAlive()).as("close waits for the batch in flight").isTrue();
    release.countDown();
    closer.join(10_000);
    run.join(10_000);
    assertThat(p.status()).isEqualTo(SyncStatus.CLOSED);
    assertThat(result.get().batches()).as("the run stopped early").isLessThan(60);
    assertThat(sink.rows("close")).hasSize(200 + (int) result.get().batches());
    assertThat(sink.position("close")).contains(Position.of("mem://people", 199 + result.get().batches()));
  }

  @Test
  void continuousPipelineStopsAfterItsRetriesWhenReadsKeepFailing() {
    InMemoryChangeSource src = source();
    src.commit(insert(person(1, "a")));
    src.failNextPolls(1_000, true);
    SyncPipeline p = SyncPipeline.builder("failing").source(src).sink(InMemoryChangeSink.keyedBy("id"))
        .mode(SyncMode.CONTINUOUS).retries(2, Duration.ofMillis(1), Duration.ofMillis(2)).build();
    p.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> p.status() == SyncStatus.FAILED);
    assertThat(p.failure()).get().extracting(Throwable::getMessage)
        .isEqualTo("in-memory source mem://people: cannot read: injected failure");
    p.close();
  }

  @Test
  void startIsOnlyForContinuousPipelines() {
    try (SyncPipeline p = pipeline("t", source(), InMemoryChangeSink.keyedBy("id")).build()) {
      assertThatThrownBy(p::start).isInstanceOf(IllegalStateException.class)
          .hasMessage("t: cannot start: start() runs CONTINUOUS pipelines; this one is TRIGGERED. Use runOnce()");
    }
  }

  @Test
  void batchesBeyondTheMemoryLimitFailClearlyAndReleaseEverything() {
    InMemoryChangeSource src = source();
    List<Change> big = new ArrayList<>();
    String text = "x".repeat(10_000);
    for (int i = 0; i < 300; i++) {
      big.add(insert(person(i, text)));
    }
    src.commit(big);
    try (SyncPipeline p = pipeline("m", src, InMemoryChangeSink.keyedBy("id"))
        .memoryLimitBytes(1 << 20).maxBatchBytes(256 << 10).build()) {
      assertThatThrownBy(p::runOnce).isInstanceOf(TidesyncException.class)
          .hasMessageStartingWith("m: cannot read a batch: the pipeline's memory limit of 1048576 bytes was reached")
          .hasMessageEndingWith("Lower maxBatchRows/maxBatchBytes or raise memoryLimitBytes");
    }
  }

  @Test
  void listenersSeeEveryAppliedBatch() {
    InMemoryChangeSource src = source();
    src.commit(insert(person(1, "a")));
    List<String> seen = new CopyOnWriteArrayList<>();
    try (SyncPipeline p = pipeline("l", src, InMemoryChangeSink.keyedBy("id")).listener(new SyncListener() {
      @Override
      public void onBatchApplied(ChangeBatch batch, ApplyResult result) {
        seen.add(batch.type() + ":" + result.inserted());
      }

      @Override
      public void onRunFinished(SyncResult result) {
        seen.add("done:" + result.batches());
      }
    }).build()) {
      p.runOnce();
    }
    assertThat(seen).containsExactly("SNAPSHOT:1", "done:1");
  }

  /**
   * Random histories, random batch limits, failures injected at random steps with restarts: the
   * sink always ends equal to the source's state, and its position to the latest version.
   */
  @Test
  void randomHistoriesWithRandomFailuresConverge() {
    long seed = Long.getLong("tidesync.seed", new Random().nextLong());
    Random rnd = new Random(seed);
    for (int run = 0; run < 60; run++) {
      InMemoryChangeSource src = source();
      InMemoryChangeSink sink = InMemoryChangeSink.keyedBy("id");
      Map<Long, String> model = new java.util.HashMap<>();
      try (SyncPipeline p = pipeline("prop", src, sink).maxBatchRows(1 + rnd.nextInt(8)).readAhead(rnd.nextBoolean()).build()) {
        int versions = 1 + rnd.nextInt(12);
        for (int v = 0; v < versions; v++) {
          List<Change> changes = new ArrayList<>();
          java.util.Set<Long> touched = new java.util.HashSet<>();
          for (int c = rnd.nextInt(6); c >= 0; c--) {
            long id = rnd.nextInt(10);
            if (!touched.add(id)) {
              continue;
            }
            if (model.containsKey(id) && rnd.nextBoolean()) {
              changes.add(delete(person(id, model.remove(id))));
            } else {
              String name = "n" + rnd.nextInt(1000);
              changes.add(model.put(id, name) == null ? insert(person(id, name)) : update(person(id, name)));
            }
          }
          src.commit(changes);
          if (rnd.nextInt(3) == 0) {
            InMemoryChangeSink.Fault[] faults = InMemoryChangeSink.Fault.values();
            sink.failAt(faults[rnd.nextInt(faults.length)]);
          }
          try {
            p.runOnce();
          } catch (ApplyFailedException expected) {
            // the next run resumes from the committed position
          }
        }
        sink.failAt(null);
        p.runOnce();
        assertThat(sink.rows("prop")).as("seed %d run %d (replay with -Dtidesync.seed=%d)", seed, run, seed)
            .isEqualTo(src.stateAt(src.latestVersion()));
        assertThat(sink.position("prop")).as("seed %d run %d", seed, run)
            .contains(Position.of("mem://people", src.latestVersion()));
      }
    }
  }
}
