package io.tidesync.delta.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.delta.kernel.engine.Engine;
import io.tidesync.ConfigurationException;
import io.tidesync.SchemaMismatchException;
import io.tidesync.SourcePositionLostException;
import io.tidesync.SyncMode;
import io.tidesync.SyncPipeline;
import io.tidesync.SyncResult;
import io.tidesync.SyncStatus;
import io.tidesync.TidesyncException;
import io.tidesync.delta.sink.HistoryWorkload.Table;
import io.tidesync.delta.sink.HistoryWorkload.Txn;
import io.tidesync.delta.sink.internal.DeltaHistoryApplier;
import io.tidesync.postgres.source.PostgresChangeSource;
import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.ChangeSink;
import io.tidesync.spi.ChangeSource;
import io.tidesync.spi.Position;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SinkContext;
import io.tidesync.spi.SourceContext;
import io.tidesync.testkit.PostgresExtension;
import io.tidesync.testkit.TestPostgres;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end: Postgres logical replication ({@link PostgresChangeSource}) into Delta history tables
 * ({@link DeltaHistorySink}) through {@link SyncPipeline}, on a real embedded Postgres. The seed of
 * the random workloads comes from {@code -Dtidesync.seed} (random otherwise) and is part of every
 * failure message.
 */
@ExtendWith(PostgresExtension.class)
class HistoryCaptureIT {
  static final long SEED = Long.getLong("tidesync.seed", new Random().nextLong());

  @TempDir Path dir;
  TestPostgres pg;
  final List<String> slots = new ArrayList<>();

  @BeforeEach
  void setUp(TestPostgres pg) {
    this.pg = pg;
    pg.execute("ALTER DATABASE " + pg.database() + " SET synchronous_commit = on");
  }

  @AfterEach
  void dropSlots() {
    for (String s : slots) {
      pg.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + s
          + "' AND NOT active");
    }
  }

  Engine engine() {
    return DeltaHistorySinkTestEngine.ENGINE;
  }

  String location() {
    return DeltaHistorySink.intoDirectory(dir.toString()).location();
  }

  String historyPath(String table) {
    return location() + "/lb_" + table + "_history";
  }

  PostgresChangeSource source(String slot, HistoryWorkload w) {
    if (!slots.contains(slot)) {
      slots.add(slot);
    }
    return PostgresChangeSource.forTables(w.tables.stream().map(t -> t.name).toArray(String[]::new))
        .dataSource(pg.dataSource()).slotName(slot).publicationName(slot);
  }

  SyncPipeline.Builder pipeline(String name, ChangeSource source, ChangeSink sink) {
    return SyncPipeline.builder(name).source(source).sink(sink).mode(SyncMode.TRIGGERED).maxBatchRows(5_000)
        .retries(2, Duration.ofMillis(10), Duration.ofMillis(20));
  }

  SyncResult runOnce(SyncPipeline.Builder b) {
    try (SyncPipeline p = b.build()) {
      return p.runOnce();
    }
  }

  long confirmedFlush(String slot) throws Exception {
    try (Connection c = pg.connect(); Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("SELECT (confirmed_flush_lsn - '0/0'::pg_lsn)::int8 FROM pg_replication_slots"
             + " WHERE slot_name = '" + slot + "'")) {
      return rs.next() ? rs.getLong(1) : -1;
    }
  }

  long walLsn() throws Exception {
    try (Connection c = pg.connect(); Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** The slot's confirmed LSN and each history table's committed LSN (Delta transaction version) at one instant. */
  record Sample(String when, long confirmed, Map<String, Long> tableLsn) {}

  Sample sample(String when, String slot, String pipeline, HistoryWorkload w) {
    try {
      long confirmed = confirmedFlush(slot);
      Map<String, Long> lsns = new HashMap<>();
      for (Table t : w.tables) {
        try {
          KernelReader.snapshot(engine(), historyPath(t.name)).getLatestTransactionVersion(engine(), "tidesync:" + pipeline)
              .ifPresent(v -> lsns.put(t.name, v));
        } catch (io.delta.kernel.exceptions.TableNotFoundException e) {
          // not created yet
        }
      }
      return new Sample(when, confirmed, lsns);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  List<String> snapshotRows(HistoryWorkload w) {
    List<String> out = new ArrayList<>();
    for (Table t : w.tables) {
      t.rows.values().forEach(r -> out.add(HistoryWorkload.change(t, "insert", r)));
    }
    return out;
  }

  /** Loads initial rows (captured by the snapshot): random transactions plus a bulk insert. */
  List<String> initialLoad(HistoryWorkload w, int txns, int bulk) throws Exception {
    pg.execute(w.ddl().toArray(String[]::new));
    try (Connection c = pg.connect()) {
      c.setAutoCommit(false);
      for (int i = 0; i < txns; i++) {
        w.randomTransaction(c, 8);
      }
      w.bulkInsertSmall(c, new Txn(), bulk);
      c.commit();
    }
    return snapshotRows(w);
  }

  /**
   * Checks the history tables against Postgres and the workload model: (a) current state derived
   * from history equals each Postgres table value by value; (b) the snapshot rows are exactly the
   * initial rows, and every streamed transaction is exactly one group of rows sharing one _lsn,
   * the groups in workload commit order; (c) streamed _lsn > snapshot _lsn; and the slot never
   * confirmed a transaction that some history table did not hold at the sampled instant.
   */
  void verify(String pipeline, HistoryWorkload w, List<String> snapshot, List<Txn> txns, List<Sample> samples)
      throws Exception {
    String seed = "seed " + SEED + " (-Dtidesync.seed=" + SEED + ")";
    txns = txns.stream().filter(t -> !t.changes.isEmpty()).toList(); // a transaction that changed nothing has no commit
    Map<String, List<Map<String, Object>>> history = new LinkedHashMap<>();
    long snapLsn = Long.MAX_VALUE;
    for (Table t : w.tables) {
      List<Map<String, Object>> rows = KernelReader.rows(engine(), historyPath(t.name));
      history.put(t.name, rows);
      for (Map<String, Object> r : rows) {
        snapLsn = Math.min(snapLsn, (Long) r.get("_lsn"));
      }
    }
    // (b) + (c): snapshot rows, then one _lsn group per streamed transaction, in commit order
    List<String> snapshotSeen = new ArrayList<>();
    TreeMap<Long, List<String>> groups = new TreeMap<>();
    Map<Long, java.util.Set<String>> groupTables = new HashMap<>();
    for (Table t : w.tables) {
      for (Map<String, Object> r : history.get(t.name)) {
        long lsn = (Long) r.get("_lsn");
        String c = HistoryWorkload.change(t, (String) r.get("_change_type"), HistoryWorkload.fromHistory(t, r));
        if (lsn == snapLsn) {
          snapshotSeen.add(c);
        } else {
          assertThat(lsn).as("streamed _lsn above the snapshot's, %s", seed).isGreaterThan(snapLsn);
          groups.computeIfAbsent(lsn, k -> new ArrayList<>()).add(c);
          groupTables.computeIfAbsent(lsn, k -> new java.util.HashSet<>()).add(t.name);
        }
      }
    }
    assertSameMultiset("snapshot rows", snapshotSeen, snapshot, seed);
    List<Long> lsns = new ArrayList<>(groups.keySet());
    for (int i = 0; i < Math.min(lsns.size(), txns.size()); i++) {
      assertSameMultiset("streamed transaction #" + i + " (history _lsn " + lsns.get(i) + ")", groups.get(lsns.get(i)),
          txns.get(i).changes, seed);
      txns.get(i).commitLsn = lsns.get(i);
    }
    assertThat(lsns).as("one _lsn group per committed transaction, %s", seed).hasSize(txns.size());
    // (a) current state from history = Postgres
    for (Table t : w.tables) {
      Map<String, Map<String, String>> state = new HashMap<>();
      Map<String, Long> stateLsn = new HashMap<>();
      Map<String, Integer> rank = new HashMap<>();
      for (Map<String, Object> r : history.get(t.name)) {
        Map<String, String> row = HistoryWorkload.fromHistory(t, r);
        String key = t.keyOf(row);
        long lsn = (Long) r.get("_lsn");
        String kind = (String) r.get("_change_type");
        // within one _lsn a key has one change, except an update's pre- and post-image (post wins)
        int rk = switch (kind) {
          case "update_postimage", "insert" -> 2;
          default -> 1;
        };
        Long prev = stateLsn.get(key);
        if (prev == null || lsn > prev || (lsn == prev && rk > rank.get(key))) {
          stateLsn.put(key, lsn);
          rank.put(key, rk);
          state.put(key, rk == 2 ? row : null);
        }
      }
      state.values().removeIf(java.util.Objects::isNull);
      Map<String, Map<String, String>> expected = HistoryWorkload.current(pg, t);
      if (!state.equals(expected)) {
        List<String> diffs = new ArrayList<>();
        for (String k : expected.keySet()) {
          if (!expected.get(k).equals(state.get(k))) {
            diffs.add("postgres " + expected.get(k) + " vs history " + state.get(k));
          }
        }
        state.keySet().stream().filter(k -> !expected.containsKey(k)).forEach(k -> diffs.add("only in history " + state.get(k)));
        fail("current state of " + t.name + " derived from history differs from Postgres, " + seed + ": " + diffs.size()
            + " rows differ, first: " + diffs.subList(0, Math.min(3, diffs.size())));
      }
    }
    // the slot never confirmed a transaction a history table did not hold at that instant
    for (Sample s : samples) {
      for (Txn txn : txns) {
        if (txn.commitLsn < s.confirmed()) {
          for (String t : txn.tables) {
            assertThat(s.tableLsn().getOrDefault(t, -1L))
                .as("%s: slot confirmed %d but %s held only up to its commit at %d, %s", s.when(), s.confirmed(), t,
                    txn.commitLsn, seed)
                .isGreaterThanOrEqualTo(txn.commitLsn);
          }
        }
      }
    }
  }

  static void assertSameMultiset(String what, List<String> actual, List<String> expected, String seed) {
    List<String> a = new ArrayList<>(actual);
    List<String> e = new ArrayList<>(expected);
    Collections.sort(a);
    Collections.sort(e);
    if (!a.equals(e)) {
      List<String> missing = new ArrayList<>(e);
      a.forEach(missing::remove);
      List<String> extra = new ArrayList<>(a);
      e.forEach(extra::remove);
      fail(what + " differs, " + seed + ": " + actual.size() + " rows vs " + expected.size() + " expected; missing "
          + missing.subList(0, Math.min(3, missing.size())) + ", unexpected " + extra.subList(0, Math.min(3, extra.size())));
    }
  }

  // ----------------------------------------------------------------------------------- tests

  @Test
  void randomWorkloadIsCapturedExactlyOnceInCommitOrder() throws Exception {
    HistoryWorkload w = new HistoryWorkload("w_", SEED);
    List<String> snapshot = initialLoad(w, 40, 7_000);
    String name = "hist";
    String slot = "it_hist";
    List<Sample> samples = new ArrayList<>();
    // no fault is ever armed: the wrapper only traces batches with -Dtidesync.trace=true
    SyncPipeline.Builder b = pipeline(name, source(slot, w),
        new FaultySink(DeltaHistorySink.intoDirectory(dir.toString()), new Faults(slot, name, w, samples)));
    long t0 = System.nanoTime();
    SyncResult first = runOnce(b);
    assertThat(first.snapshot()).isTrue();
    samples.add(sample("after the snapshot run", slot, name, w));
    List<Txn> txns = new ArrayList<>();
    long streamed = 0;
    try (Connection c = pg.connect()) {
      c.setAutoCommit(false);
      for (int round = 1; round <= 5; round++) {
        for (int i = 0; i < 30; i++) {
          txns.add(w.randomTransaction(c, 6));
          if (round == 2 && i == 10) {
            // one 100k-row transaction touching three tables: partial batches over several tables
            Txn big = new Txn();
            w.bulkInsertSmall(c, big, 100_000);
            java.util.Set<String> touched = new java.util.HashSet<>();
            w.insert(c, w.all, big, touched);
            w.insert(c, w.comp, big, touched);
            c.commit();
            txns.add(big);
            // the run must end right after the big transaction: with more transactions behind it in the
            // same run the source breaks the batch contract (see bigTransactionFollowedByAnotherInOneRun)
            SyncResult r = runOnce(b);
            streamed += r.inserted() + r.updated() + r.deleted();
            samples.add(sample("after the 100k transaction", slot, name, w));
          }
        }
        SyncResult r = runOnce(b);
        streamed += r.inserted() + r.updated() + r.deleted();
        samples.add(sample("after run " + round, slot, name, w));
      }
    }
    runOnce(b); // caught up: nothing new
    samples.add(sample("after the last run", slot, name, w));
    double secs = (System.nanoTime() - t0) / 1e9;
    verify(name, w, snapshot, txns, samples);
    long changes = txns.stream().mapToLong(t -> t.changes.size()).sum();
    System.out.printf("history capture (seed %d): %d snapshot rows, %d transactions with %d change rows streamed, "
        + "captured in %.1f s; slot confirmed %d, last commit %d%n", SEED, snapshot.size(), txns.size(), changes, secs,
        confirmedFlush(slot), txns.get(txns.size() - 1).commitLsn);
    assertThat(streamed).as("seed %d", SEED).isPositive();
  }

  // ------------------------------------------------------------------------ injected failures

  /** A one-shot fault armed at a named point, fired at its n-th passage; samples the slot when it fires. */
  final class Faults {
    final String slot;
    final String pipeline;
    final HistoryWorkload w;
    final List<Sample> samples;
    String point;
    int countdown;
    boolean retryable;
    int fired;

    Faults(String slot, String pipeline, HistoryWorkload w, List<Sample> samples) {
      this.slot = slot;
      this.pipeline = pipeline;
      this.w = w;
      this.samples = samples;
    }

    void arm(String point, int countdown, boolean retryable) {
      this.point = point;
      this.countdown = countdown;
      this.retryable = retryable;
    }

    void at(String p) {
      if (p.equals(point) && --countdown == 0) {
        point = null;
        fired++;
        samples.add(sample("at injected crash " + p, slot, pipeline, w));
        if (Boolean.getBoolean("tidesync.trace")) {
          System.out.println("TRACE crash at " + p + " retryable=" + retryable);
        }
        throw new TidesyncException("injected crash at " + p, null, retryable);
      }
    }
  }

  /** DeltaHistorySink with the FaultHook seam and crashes just before and just after apply. */
  record FaultySink(DeltaHistorySink delegate, Faults faults) implements ChangeSink {
    @Override
    public List<String> validate() {
      return delegate.validate();
    }

    @Override
    public ChangeApplier open(SinkContext context) {
      DeltaHistoryApplier a = new DeltaHistoryApplier(delegate, context, (p, t) -> faults.at(p.name()));
      return new ChangeApplier() {
        @Override
        public Optional<Position> committedPosition() {
          return a.committedPosition();
        }

        @Override
        public ApplyResult apply(ChangeBatch batch) {
          if (Boolean.getBoolean("tidesync.trace")) {
            System.out.println("TRACE apply " + batch + " partial=" + batch.isPartial() + " rows=" + batch.rowCount()
                + " armed=" + faults.point + "/" + faults.countdown);
          }
          faults.at("BEFORE_APPLY");
          ApplyResult r = a.apply(batch);
          faults.at("AFTER_APPLY"); // durable in Delta, not yet acknowledged to the source
          return r;
        }

        @Override
        public void close() {
          a.close();
        }
      };
    }

    @Override
    public String describe() {
      return delegate.describe();
    }
  }

  /** PostgresChangeSource whose reader crashes after decoding a batch, or before acknowledging. */
  record FaultySource(PostgresChangeSource delegate, Faults faults) implements ChangeSource {
    @Override
    public List<String> validate() {
      return delegate.validate();
    }

    @Override
    public ChangeReader open(ReadRequest request, SourceContext context) {
      ChangeReader r = delegate.open(request, context);
      return new ChangeReader() {
        @Override
        public ChangeBatch poll() {
          ChangeBatch b = r.poll();
          if (b != null) {
            try {
              faults.at("AFTER_DECODE");
            } catch (RuntimeException e) {
              b.close();
              throw e;
            }
          }
          return b;
        }

        @Override
        public void acknowledge(Position position) {
          faults.at("BEFORE_ACK");
          r.acknowledge(position);
        }

        @Override
        public void close() {
          r.close();
        }
      };
    }

    @Override
    public String describe() {
      return delegate.describe();
    }
  }

  static final List<String> POINTS = List.of("AFTER_DECODE", "BEFORE_APPLY", "AFTER_WRITE_FILES", "AFTER_COMMIT",
      "AFTER_MARKER", "AFTER_APPLY", "BEFORE_ACK");

  @Test
  void crashesBetweenDecodeWriteCommitAndAcknowledgeLoseAndRepeatNothing() throws Exception {
    HistoryWorkload w = new HistoryWorkload("f_", SEED + 1);
    List<String> snapshot = initialLoad(w, 20, 6_000);
    String name = "faults";
    String slot = "it_faults";
    List<Sample> samples = new ArrayList<>();
    Faults faults = new Faults(slot, name, w, samples);
    SyncPipeline.Builder b = pipeline(name, new FaultySource(source(slot, w), faults),
        new FaultySink(DeltaHistorySink.intoDirectory(dir.toString()), faults));
    Random rnd = new Random(SEED);
    // the snapshot crashes once (a point chosen at random), then completes; no workload in between
    String first = List.of("AFTER_DECODE", "AFTER_WRITE_FILES", "AFTER_COMMIT", "AFTER_MARKER", "AFTER_APPLY", "BEFORE_ACK")
        .get(rnd.nextInt(6));
    // the marker is written once per snapshot: only its first pass can crash
    faults.arm(first, first.equals("AFTER_MARKER") ? 1 : 1 + rnd.nextInt(2), false);
    String snapshotFault = faults.point;
    assertThatThrownBy(() -> runOnce(b)).as("seed %d", SEED).hasMessageContaining("injected crash at " + snapshotFault);
    samples.add(sample("after the crashed snapshot run", slot, name, w));
    runOnce(b);
    samples.add(sample("after the snapshot run", slot, name, w));
    List<Txn> txns = new ArrayList<>();
    int failedRuns = 0;
    try (Connection c = pg.connect()) {
      c.setAutoCommit(false);
      for (int round = 0; round < 14; round++) {
        for (int i = 0; i < 8; i++) {
          txns.add(w.randomTransaction(c, 5));
        }
        if (round % 4 == 1) { // a transaction larger than a batch, over three tables
          Txn big = new Txn();
          java.util.Set<String> touched = new java.util.HashSet<>();
          w.insert(c, w.all, big, touched);
          w.bulkInsertSmall(c, big, 12_000);
          w.insert(c, w.comp, big, touched);
          c.commit();
          txns.add(big);
        }
        String point = POINTS.get(round % POINTS.size());
        if (Boolean.getBoolean("tidesync.trace")) {
          System.out.println("TRACE round " + round + " txns " + txns.size());
        }
        faults.arm(point, 1 + rnd.nextInt(4), rnd.nextBoolean());
        try {
          runOnce(b);
        } catch (TidesyncException e) {
          assertThat(e).as("seed %d", SEED).hasMessageContaining("injected crash at " + point);
          failedRuns++;
          samples.add(sample("after the crashed run of round " + round, slot, name, w));
          // restart before more changes arrive: with new transactions behind a unit that was committed to
          // some tables only, the sink duplicates rows (see replayStraddlingATablesCommittedLsnIsNotDuplicated)
          runOnce(b);
        }
        samples.add(sample("after round " + round + " (fault " + point + ")", slot, name, w));
      }
    }
    faults.arm(null, 0, false);
    runOnce(b);
    samples.add(sample("after the clean run", slot, name, w));
    verify(name, w, snapshot, txns, samples);
    System.out.printf("injected crashes (seed %d): %d fired (%d runs failed, the others retried), %d transactions,"
        + " %d samples of the slot, snapshot crash at %s%n", SEED, faults.fired, failedRuns, txns.size(), samples.size(),
        snapshotFault);
    assertThat(faults.fired).as("seed %d", SEED).isGreaterThanOrEqualTo(8);
  }

  // ------------------------------------------------------------------------------ error cases

  @Test
  void replicaIdentityNotFullStopsBeforeAnythingIsWritten() {
    pg.execute("CREATE TABLE e_rid (id int PRIMARY KEY, v text)", "INSERT INTO e_rid VALUES (1, 'a')");
    slots.add("it_rid");
    SyncPipeline.Builder b = pipeline("rid", PostgresChangeSource.forTables("e_rid").dataSource(pg.dataSource())
        .slotName("it_rid").publicationName("it_rid"), DeltaHistorySink.intoDirectory(dir.toString()));
    assertThatThrownBy(() -> runOnce(b)).isInstanceOf(ConfigurationException.class)
        .hasMessage("rid: cannot open postgres source: invalid configuration (1 problem): 1) tables [public.e_rid] do not"
            + " have REPLICA IDENTITY FULL, which history capture needs (old rows of updates and deletes). Run: ALTER"
            + " TABLE \"public\".\"e_rid\" REPLICA IDENTITY FULL; or set .replicaIdentity(ReplicaIdentityPolicy.SET_FULL)");
    assertThat(dir.resolve("lb_e_rid_history")).doesNotExist();
  }

  @Test
  void droppedSlotAfterTheFirstRunIsPositionLost() throws Exception {
    pg.execute("CREATE TABLE e_lost (id int PRIMARY KEY)", "ALTER TABLE e_lost REPLICA IDENTITY FULL",
        "INSERT INTO e_lost VALUES (1)");
    slots.add("it_lost");
    SyncPipeline.Builder b = pipeline("lost", PostgresChangeSource.forTables("e_lost").dataSource(pg.dataSource())
        .slotName("it_lost").publicationName("it_lost"), DeltaHistorySink.intoDirectory(dir.toString()));
    Position pos = runOnce(b).endPosition().orElseThrow();
    pg.execute("SELECT pg_drop_replication_slot('it_lost')", "INSERT INTO e_lost VALUES (2)");
    assertThatThrownBy(() -> runOnce(b)).isInstanceOf(SourcePositionLostException.class)
        .hasMessage("lost: cannot open postgres source: replication slot it_lost on database " + pg.database()
            + " does not exist, but the sink has position " + pos + ": changes after it may be lost. Re-snapshot: drop"
            + " the sink's history position (its history tables or resume marker) and run again, which creates the"
            + " slot and copies the tables");
    assertThat(KernelReader.rows(engine(), historyPath("e_lost"))).hasSize(1);
  }

  @Test
  void newSourceColumnMidStreamStopsWithSchemaMismatchAndCommitsNothingAfterIt() throws Exception {
    pg.execute("CREATE TABLE e_evolve (id int PRIMARY KEY, v text)", "ALTER TABLE e_evolve REPLICA IDENTITY FULL",
        "INSERT INTO e_evolve VALUES (1, 'a')");
    slots.add("it_evolve");
    SyncPipeline.Builder b = pipeline("evolve", PostgresChangeSource.forTables("e_evolve").dataSource(pg.dataSource())
        .slotName("it_evolve").publicationName("it_evolve"), DeltaHistorySink.intoDirectory(dir.toString()));
    runOnce(b);
    pg.execute("INSERT INTO e_evolve VALUES (2, 'b')");
    Position before = runOnce(b).endPosition().orElseThrow();
    long versionBefore = KernelReader.snapshot(engine(), historyPath("e_evolve")).getVersion();
    long walBefore = walLsn();
    pg.execute("ALTER TABLE e_evolve ADD COLUMN extra int", "INSERT INTO e_evolve VALUES (3, 'c', 7)",
        "INSERT INTO e_evolve VALUES (4, 'd', 8)");
    for (int attempt = 0; attempt < 2; attempt++) { // a restart meets the same error: the position did not move
      assertThatThrownBy(() -> runOnce(b)).isInstanceOf(SchemaMismatchException.class)
          .hasMessageContaining("lb_e_evolve_history: cannot append to the history table: the source has a new column"
              + " 'extra'")
          .hasMessageContaining("Delta Kernel cannot change a history table's schema");
      assertThat(KernelReader.snapshot(engine(), historyPath("e_evolve")).getVersion()).isEqualTo(versionBefore);
      assertThat(KernelReader.rows(engine(), historyPath("e_evolve"))).extracting(r -> r.get("id"))
          .containsExactlyInAnyOrder(1, 2);
      try (DeltaHistoryApplier a = new DeltaHistoryApplier(DeltaHistorySink.intoDirectory(dir.toString()),
          new SinkContext("evolve", SyncMode.TRIGGERED, "test"), (p, t) -> {})) {
        assertThat(a.committedPosition()).contains(before);
      }
      assertThat(confirmedFlush("it_evolve")).isLessThanOrEqualTo(walBefore);
    }
  }

  // ------------------------------------------------------------------------------ regressions

  @Test
  void bigTransactionFollowedByAnotherInOneRun() throws Exception {
    pg.execute("CREATE TABLE k_big (id int PRIMARY KEY, v text)", "ALTER TABLE k_big REPLICA IDENTITY FULL",
        "CREATE TABLE k_other (id int PRIMARY KEY)", "ALTER TABLE k_other REPLICA IDENTITY FULL");
    slots.add("it_kbig");
    SyncPipeline.Builder b = pipeline("kbig", PostgresChangeSource.forTables("k_big", "k_other")
        .dataSource(pg.dataSource()).slotName("it_kbig").publicationName("it_kbig"),
        DeltaHistorySink.intoDirectory(dir.toString()));
    runOnce(b);
    pg.execute("INSERT INTO k_other VALUES (1)", // pending in another table's builder when k_big fills
        "INSERT INTO k_big SELECT g, 'r' || g FROM generate_series(1, 12000) g",
        "INSERT INTO k_other VALUES (2)"); // a later transaction in the same run
    runOnce(b);
    assertThat(KernelReader.rows(engine(), historyPath("k_big"))).hasSize(12_000);
    assertThat(KernelReader.rows(engine(), historyPath("k_other"))).hasSize(2);
  }

  @Test
  void replayStraddlingATablesCommittedLsnIsNotDuplicated() throws Exception {
    pg.execute("CREATE TABLE k_a (id int PRIMARY KEY)", "ALTER TABLE k_a REPLICA IDENTITY FULL",
        "CREATE TABLE k_b (id int PRIMARY KEY)", "ALTER TABLE k_b REPLICA IDENTITY FULL");
    slots.add("it_kdup");
    List<Sample> ignored = new ArrayList<>();
    HistoryWorkload none = new HistoryWorkload("k_", 0);
    Faults faults = new Faults("it_kdup", "kdup", none, ignored);
    SyncPipeline.Builder b = pipeline("kdup", new FaultySource(PostgresChangeSource.forTables("k_a", "k_b")
        .dataSource(pg.dataSource()).slotName("it_kdup").publicationName("it_kdup"), faults),
        new FaultySink(DeltaHistorySink.intoDirectory(dir.toString()), faults));
    runOnce(b);
    pg.execute("INSERT INTO k_a VALUES (1)", "INSERT INTO k_b VALUES (1)", "INSERT INTO k_a VALUES (2)");
    faults.arm("AFTER_COMMIT", 1, false); // k_a committed up to the unit's end, k_b not
    assertThatThrownBy(() -> runOnce(b)).hasMessageContaining("injected crash");
    pg.execute("INSERT INTO k_a VALUES (3)"); // a new transaction joins the replayed unit
    runOnce(b);
    assertThat(KernelReader.rows(engine(), historyPath("k_a"))).extracting(r -> r.get("id"))
        .containsExactlyInAnyOrder(1, 2, 3);
    assertThat(KernelReader.rows(engine(), historyPath("k_b"))).extracting(r -> r.get("id")).containsExactly(1);
  }

  /**
   * A transaction that changes one row several times (two updates, a key change, an insert then a
   * delete, and an update of a row inserted before a delete of another): ordering by (_lsn, _seq)
   * gives every row's current state exactly.
   */
  @Test
  void severalChangesOfOneRowInOneTransactionAreOrderedBySeq() throws Exception {
    pg.execute("CREATE TABLE k_seq (id int PRIMARY KEY, v text)", "ALTER TABLE k_seq REPLICA IDENTITY FULL",
        "INSERT INTO k_seq VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    slots.add("it_kseq");
    SyncPipeline.Builder b = pipeline("kseq", PostgresChangeSource.forTables("k_seq").dataSource(pg.dataSource())
        .slotName("it_kseq").publicationName("it_kseq"), DeltaHistorySink.intoDirectory(dir.toString()));
    runOnce(b);
    try (java.sql.Connection c = pg.connect(); java.sql.Statement st = c.createStatement()) {
      c.setAutoCommit(false);
      st.execute("UPDATE k_seq SET v = 'a1' WHERE id = 1");
      st.execute("UPDATE k_seq SET v = 'a2' WHERE id = 1");
      st.execute("UPDATE k_seq SET id = 20, v = 'b-moved' WHERE id = 2");
      st.execute("INSERT INTO k_seq VALUES (4, 'd')");
      st.execute("DELETE FROM k_seq WHERE id = 4");
      st.execute("UPDATE k_seq SET v = 'c1' WHERE id = 3");
      st.execute("DELETE FROM k_seq WHERE id = 3");
      st.execute("INSERT INTO k_seq VALUES (3, 'c-again')");
      c.commit();
    }
    runOnce(b);
    List<Map<String, Object>> rows = new ArrayList<>(KernelReader.rows(engine(), historyPath("k_seq")));
    rows.sort(java.util.Comparator.comparing((Map<String, Object> r) -> (Long) r.get("_lsn"))
        .thenComparing(r -> (Long) r.get("_seq")));
    Map<Object, String> current = new java.util.TreeMap<>();
    for (Map<String, Object> r : rows) {
      String kind = (String) r.get("_change_type");
      if (kind.equals("insert") || kind.equals("update_postimage")) {
        current.put(r.get("id"), (String) r.get("v"));
      } else {
        current.remove(r.get("id"));
      }
    }
    assertThat(current).isEqualTo(Map.of(1, "a2", 20, "b-moved", 3, "c-again"));
    long lsnOfTxn = rows.stream().filter(r -> r.get("_change_type").equals("delete")).mapToLong(r -> (Long) r.get("_lsn"))
        .max().getAsLong();
    assertThat(rows.stream().filter(r -> (Long) r.get("_lsn") == lsnOfTxn).map(r -> (Long) r.get("_seq")))
        .as("0, 1, ... in WAL order within the transaction").containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L);
  }

  // ------------------------------------------------------------------------------ continuous

  @Test
  void continuousPipelineCapturesUntilClosedAndKeepsTheSlot() throws Exception {
    pg.execute("CREATE TABLE c_live (id int PRIMARY KEY, v text)", "ALTER TABLE c_live REPLICA IDENTITY FULL",
        "INSERT INTO c_live VALUES (0, 'seed')");
    slots.add("it_live");
    AtomicReference<Thread> worker = new AtomicReference<>();
    SyncPipeline p = SyncPipeline.builder("live")
        .source(PostgresChangeSource.forTables("c_live").dataSource(pg.dataSource()).slotName("it_live")
            .publicationName("it_live").statusInterval(Duration.ofMillis(200)))
        .sink(DeltaHistorySink.intoDirectory(dir.toString()))
        .mode(SyncMode.CONTINUOUS).pollInterval(Duration.ofMillis(100))
        .threadFactory(r -> {
          Thread t = new Thread(r, "it-live-worker");
          t.setDaemon(true);
          worker.set(t);
          return t;
        })
        .build();
    long slotBefore;
    try (p) {
      p.start();
      Awaitility.await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
          .until(() -> KernelReader.rows(engine(), historyPath("c_live")).size() == 1);
      slotBefore = confirmedFlush("it_live");
      pg.execute("INSERT INTO c_live VALUES (1, 'a'), (2, 'b')", "UPDATE c_live SET v = 'b2' WHERE id = 2",
          "DELETE FROM c_live WHERE id = 0");
      Awaitility.await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
          .until(() -> KernelReader.rows(engine(), historyPath("c_live")).size() == 1 + 2 + 2 + 1);
      assertThat(p.status()).isEqualTo(SyncStatus.RUNNING);
    }
    assertThat(p.status()).isEqualTo(SyncStatus.CLOSED);
    boolean interrupted = Thread.interrupted();
    // close() joins the worker; seen once still alive right after close (an interrupted join returns early)
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !worker.get().isAlive());
    assertThat(interrupted).as("test thread interrupted").isFalse();
    long maxLsn = KernelReader.rows(engine(), historyPath("c_live")).stream().mapToLong(r -> (Long) r.get("_lsn"))
        .max().orElseThrow();
    assertThat(confirmedFlush("it_live")).as("slot kept, confirmed advanced to the last commit")
        .isGreaterThan(slotBefore).isGreaterThanOrEqualTo(maxLsn);
    try (Connection c = pg.connect(); Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("SELECT active FROM pg_replication_slots WHERE slot_name = 'it_live'")) {
      assertThat(rs.next()).as("the slot remains").isTrue();
      assertThat(rs.getBoolean(1)).as("and is released").isFalse();
    }
  }
}
