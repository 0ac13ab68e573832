package io.tidesync.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.debezium.embedded.Connect;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import io.delta.kernel.data.ColumnVector;
import io.delta.kernel.types.LongType;
import io.delta.kernel.types.StructType;
import io.delta.kernel.utils.FileStatus;
import io.tidesync.SyncMode;
import io.tidesync.SyncPipeline;
import io.tidesync.SyncResult;
import io.tidesync.delta.sink.DeltaHistorySink;
import io.tidesync.postgres.source.PostgresChangeSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.connect.source.SourceRecord;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The capture scenarios of {@link Bench} (3: throughput against Debezium embedded, 4: latency,
 * 5: the 1,000,000-row transaction with {@code -Xmx256m}) on their own embedded PostgreSQL 17
 * with {@code wal_level=logical}, so scenarios 1 and 2 keep their server settings.
 */
final class Capture {
  private final Bench bench;
  private final boolean quick;
  private final int rounds;
  private final int warmupRounds;
  private final Path dataDir;
  private final long changes;
  private final long baseRows;
  private final int latencySeconds;
  private final int latencyRate = 100;
  private final long memoryTxRows;
  private final boolean bigBatches;
  private EmbeddedPostgres pg;
  private PGSimpleDataSource ds;
  private String jdbcUrl;
  private int port;

  Capture(Bench bench, boolean quick, int rounds, int warmupRounds, Path dataDir, boolean bigBatches) {
    this.bench = bench;
    this.bigBatches = bigBatches;
    this.quick = quick;
    this.rounds = rounds;
    this.warmupRounds = warmupRounds;
    this.dataDir = dataDir;
    this.changes = quick ? 50_000 : 500_000;
    this.baseRows = quick ? 10_000 : 50_000;
    this.latencySeconds = quick ? 5 : 20;
    this.memoryTxRows = quick ? 200_000 : 1_000_000;
  }

  Map<String, Object> settings() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("capture_changes", changes);
    m.put("capture_base_rows_per_table", baseRows);
    m.put("capture_latency", latencyRate + " tx/s for " + latencySeconds + " s, synchronous_commit=on, poll interval 50 ms");
    m.put("capture_memory_transaction_rows", memoryTxRows);
    m.put("capture_tidesync_batches", bigBatches ? "maxBatchRows 1048576, maxBatchBytes 256 MiB, memory limit 1 GiB" : "defaults");
    m.put("capture_server", "a second embedded PostgreSQL 17 with wal_level=logical");
    m.put("debezium", Bench.version("io.debezium", "debezium-embedded") + " (embedded engine + postgres connector, pgoutput,"
        + " snapshot.mode=no_data, MemoryOffsetBackingStore, tombstones.on.delete=false, other settings default)");
    return m;
  }

  void start(Path pgdata) throws Exception {
    File binaries = new File(System.getProperty("java.io.tmpdir"), "tidesync-embedded-pg");
    binaries.mkdirs();
    pg = EmbeddedPostgres.builder().setOverrideWorkingDirectory(binaries).setDataDirectory(pgdata.toFile())
        .setCleanDataDirectory(true).setServerConfig("max_wal_size", "4GB").setServerConfig("wal_level", "logical")
        .setServerConfig("max_replication_slots", "20").setServerConfig("max_wal_senders", "20").start();
    port = pg.getPort();
    jdbcUrl = pg.getJdbcUrl("postgres", "postgres");
    ds = new PGSimpleDataSource();
    ds.setUrl(jdbcUrl);
  }

  void stop() throws Exception {
    if (pg != null) {
      pg.close();
    }
  }

  // ---------------------------------------------------------------- scenario 3: capture throughput

  void throughput() throws Exception {
    String sc = "3-capture";
    CaptureWorkload w = new CaptureWorkload("cap_t", baseRows, changes);
    Bench.log("scenario 3: %d changes over %d tables (70%% updates, 20%% inserts, 10%% deletes, %d transactions) already in"
        + " the WAL; %d base rows per table", w.changes(), CaptureWorkload.TABLES, w.transactions, baseRows);
    AtomicReference<String> pipeline = new AtomicReference<>();
    AtomicReference<Path> dir = new AtomicReference<>();
    AtomicReference<String> dbzSlot = new AtomicReference<>();
    AtomicLong prepared = new AtomicLong(Long.MIN_VALUE);
    List<Bench.Contender> cs = new ArrayList<>();
    // Each round prepares fresh tables, slots and WAL (untimed) before the first contender of the round.
    cs.add(new Bench.Contender("tidesync_history_capture", w.changes(), round -> {
      prepare(w, round, prepared, pipeline, dir, dbzSlot);
      try (SyncPipeline p = historyPipeline(pipeline.get(), dir.get(), w.tables(), SyncMode.TRIGGERED, null, bigBatches)) {
        long t0 = System.nanoTime();
        SyncResult r = p.runOnce();
        long t = System.nanoTime() - t0;
        Bench.log("    %s", r);
        return t;
      }
    }, round -> {
      for (int i = 0; i < CaptureWorkload.TABLES; i++) {
        Path table = dir.get().resolve(DeltaHistorySink.historyTableName(io.tidesync.spi.TableId.of("public", w.table(i))));
        TreeMap<String, Long> got = HistoryTables.countByChangeType(table.toString());
        Bench.check(got.equals(new TreeMap<>(w.expectedHistory(i))), "history table " + table + " holds " + got
            + ", expected " + w.expectedHistory(i));
      }
    }));
    AtomicLong dbzCount = new AtomicLong();
    cs.add(new Bench.Contender("debezium_embedded", w.changes(), round -> {
      prepare(w, round, prepared, pipeline, dir, dbzSlot);
      long t = debezium(dbzSlot.get(), w, dbzCount);
      return t;
    }, round -> Bench.check(dbzCount.get() == w.changes(), "Debezium counted " + dbzCount.get() + " change events, expected "
        + w.changes())));
    bench.runRounds(sc, cs);
    bench.ratio(sc, "capture_vs_debezium", "tidesync_history_capture", "debezium_embedded", 1.0);
    bench.notes.add(bigBatches ? "Scenario 3 ran Tidesync with maxBatchRows 1,048,576 / maxBatchBytes 256 MiB / memory"
        + " limit 1 GiB (--capture-big-batches), not the defaults (65,536 rows / 64 MiB / 512 MiB)."
        : "Scenario 3 runs Tidesync at the default pipeline settings (65,536 rows / 64 MiB per batch, 512 MiB memory"
        + " limit, read-ahead on).");
    bench.notes.add("Scenario 3: per round, fresh tables (" + baseRows + " rows each, REPLICA IDENTITY FULL), a Tidesync initial"
        + " snapshot into fresh history tables (untimed; it creates Tidesync's slot), Debezium's slot created right after"
        + " (pg_create_logical_replication_slot, pgoutput), then the workload of " + w.transactions + " transactions of 1000"
        + " changes (untimed); then each contender catches up from its slot, in rotating order. Tidesync: SyncPipeline"
        + " TRIGGERED runOnce (PostgresChangeSource -> DeltaHistorySink, default settings unless"
        + " the note above says otherwise), timed until it returns (pipeline open and catalog checks included);"
        + " verified: each lb_*_history table's rows by _change_type equal the workload's (snapshot rows as inserts, updates"
        + " as pre- and post-image). Debezium: embedded engine with a consumer that only counts records with a value, timed"
        + " from engine start (connector start included) until it has counted every change; verified: count equals the"
        + " workload's changes. Both run on a second embedded server (wal_level=logical, max_replication_slots 20,"
        + " synchronous_commit off as zonky sets it; otherwise the settings shown above).");
    exec("DROP PUBLICATION IF EXISTS bench_dbz");
    dropSlots();
  }

  /** Prepares a round's tables, slots and WAL once per round (the first contender of the round calls it). */
  private void prepare(CaptureWorkload w, int round, AtomicLong prepared, AtomicReference<String> pipeline,
      AtomicReference<Path> dir, AtomicReference<String> dbzSlot) throws Exception {
    if (prepared.get() == round) {
      return;
    }
    prepared.set(round);
    dropSlots();
    String tag = round < 0 ? "w" + (-round) : "r" + round;
    pipeline.set("bench_cap_" + tag);
    dir.set(dataDir.resolve("capture-history-" + tag));
    Bench.deleteRecursively(dir.get());
    long t0 = System.nanoTime();
    w.create(ds);
    exec("DROP PUBLICATION IF EXISTS bench_dbz", "CREATE PUBLICATION bench_dbz FOR TABLE " + String.join(", ", w.tables()));
    try (SyncPipeline p = historyPipeline(pipeline.get(), dir.get(), w.tables(), SyncMode.TRIGGERED, null)) {
      SyncResult r = p.runOnce(); // the initial snapshot; creates Tidesync's slot before the workload
      Bench.check(r.snapshot(), "the first history run did not snapshot: " + r);
    }
    dbzSlot.set("bench_dbz_" + tag);
    exec("SELECT pg_create_logical_replication_slot('" + dbzSlot.get() + "', 'pgoutput')");
    long t1 = System.nanoTime();
    w.run(ds);
    exec("CHECKPOINT");
    Bench.log("    round %s prepared: snapshot %.1f s, workload %.1f s (untimed)", tag, (t1 - t0) / 1e9,
        (System.nanoTime() - t1) / 1e9);
  }

  private SyncPipeline historyPipeline(String name, Path dir, List<String> tables, SyncMode mode, Duration pollInterval) {
    return historyPipeline(name, dir, tables, mode, pollInterval, false);
  }

  /**
   * {@code bigBatches} ({@code --capture-big-batches}): 1,048,576 rows / 256 MiB per batch (1 GiB memory limit) instead of
   * the defaults. It was the workaround for a postgres-source bug fixed in c410bb1 (a transaction whose partial batches
   * were already sent did not end its unit at commit, so DeltaHistorySink rejected the next batch); kept to compare.
   */
  private SyncPipeline historyPipeline(String name, Path dir, List<String> tables, SyncMode mode, Duration pollInterval,
      boolean bigBatches) {
    SyncPipeline.Builder b = SyncPipeline.builder(name)
        .source(PostgresChangeSource.forTables(tables.toArray(String[]::new)).dataSource(ds).slotName(name)
            .publicationName(name))
        .sink(DeltaHistorySink.intoDirectory(dir.toString()))
        .mode(mode);
    if (bigBatches) {
      b.maxBatchRows(1 << 20).maxBatchBytes(256L << 20).memoryLimitBytes(1L << 30);
    }
    if (pollInterval != null) {
      b.pollInterval(pollInterval);
    }
    return b.build();
  }

  /** Runs Debezium's embedded engine from the slot until it has counted every change; returns the nanoseconds taken. */
  private long debezium(String slot, CaptureWorkload w, AtomicLong count) throws Exception {
    count.set(0);
    Properties p = new Properties();
    p.setProperty("name", "bench-" + slot);
    p.setProperty("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
    p.setProperty("offset.storage", "org.apache.kafka.connect.storage.MemoryOffsetBackingStore");
    p.setProperty("offset.flush.interval.ms", "60000");
    p.setProperty("database.hostname", "localhost");
    p.setProperty("database.port", Integer.toString(port));
    p.setProperty("database.user", "postgres");
    p.setProperty("database.password", "postgres");
    p.setProperty("database.dbname", "postgres");
    p.setProperty("topic.prefix", "bench");
    p.setProperty("plugin.name", "pgoutput");
    p.setProperty("slot.name", slot);
    p.setProperty("publication.name", "bench_dbz");
    p.setProperty("publication.autocreate.mode", "disabled");
    p.setProperty("snapshot.mode", "no_data");
    p.setProperty("table.include.list", String.join(",", w.tables().stream().map(t -> "public." + t).toList()));
    p.setProperty("tombstones.on.delete", "false");
    AtomicReference<Throwable> failed = new AtomicReference<>();
    long expected = w.changes();
    long t0 = System.nanoTime();
    ExecutorService ex = Executors.newSingleThreadExecutor();
    try (DebeziumEngine<RecordChangeEvent<SourceRecord>> engine = DebeziumEngine.create(ChangeEventFormat.of(Connect.class))
        .using(p)
        .notifying((records, committer) -> {
          for (RecordChangeEvent<SourceRecord> r : records) {
            if (r.record().value() != null) {
              count.incrementAndGet();
            }
            committer.markProcessed(r);
          }
          committer.markBatchFinished();
        })
        .using((success, message, error) -> {
          if (!success) {
            failed.set(error != null ? error : new IllegalStateException(message));
          }
        })
        .build()) {
      ex.execute(engine);
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
      while (count.get() < expected && failed.get() == null && System.nanoTime() < deadline) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1)); // waiting for a count; measured, not asserted
      }
      long t = System.nanoTime() - t0;
      if (failed.get() != null) {
        throw new IllegalStateException("Debezium failed: " + failed.get(), failed.get());
      }
      return t;
    } finally {
      ex.shutdown();
      ex.awaitTermination(60, TimeUnit.SECONDS);
    }
  }

  private void dropSlots() throws Exception {
    exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active");
  }

  // ---------------------------------------------------------------- scenario 4: capture latency

  void latency() throws Exception {
    String sc = "4-latency";
    String table = "cap_latency";
    String name = "bench_cap_latency";
    Path dir = dataDir.resolve("capture-latency-history");
    Bench.deleteRecursively(dir);
    dropSlots();
    exec("DROP TABLE IF EXISTS " + table, "CREATE TABLE " + table + " (id bigint PRIMARY KEY, payload text, ts timestamptz)",
        "ALTER TABLE " + table + " REPLICA IDENTITY FULL", "INSERT INTO " + table + " VALUES (0, 'seed', now())");
    int warmup = latencyRate * (quick ? 1 : 2);
    int measured = latencyRate * latencySeconds;
    Bench.log("scenario 4: %d tx/s for %d s (after %d untimed warm-up transactions), synchronous_commit=on, CONTINUOUS"
        + " pipeline with a 50 ms poll interval", latencyRate, latencySeconds, warmup);
    Path history = dir.resolve(DeltaHistorySink.historyTableName(io.tidesync.spi.TableId.of("public", table)));
    long[] committed = new long[warmup + measured + 1];
    Map<Long, Long> visible = new ConcurrentHashMap<>();
    try (SyncPipeline p = historyPipeline(name, dir, List.of(table), SyncMode.CONTINUOUS, null)) {
      p.start();
      Watcher watcher = new Watcher(history, visible);
      Thread wt = new Thread(watcher, "bench-delta-watcher");
      wt.setDaemon(true);
      wt.start();
      // wait for the snapshot row (id 0) to be visible: the pipeline is streaming
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!visible.containsKey(0L) && System.nanoTime() < deadline) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
      }
      Bench.check(visible.containsKey(0L), "the latency pipeline did not write its snapshot within 60 s: " + p.failure());
      try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
        s.execute("SET synchronous_commit = on");
        long start = System.nanoTime();
        long periodNanos = 1_000_000_000L / latencyRate;
        for (int i = 1; i <= warmup + measured; i++) {
          long due = start + (i - 1) * periodNanos; // paced: 100 transactions per second
          long wait = due - System.nanoTime();
          if (wait > 0) {
            LockSupport.parkNanos(wait);
          }
          s.execute("INSERT INTO " + table + " VALUES (" + i + ", 'tx " + i + "', now())"); // autocommit: one tx
          committed[i] = System.nanoTime();
        }
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (visible.size() < warmup + measured + 1 && System.nanoTime() < deadline) {
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
        double achieved = (warmup + measured) / ((committed[warmup + measured] - start) / 1e9);
        watcher.stop = true;
        wt.join(10_000);
        Bench.check(p.failure().isEmpty(), "the latency pipeline failed: " + p.failure());
        Bench.check(visible.size() == warmup + measured + 1, "only " + visible.size() + " of " + (warmup + measured + 1)
            + " rows became visible in " + history);
        double[] lat = new double[measured];
        for (int i = 0; i < measured; i++) {
          long id = warmup + 1 + i;
          lat[i] = (visible.get(id) - committed[(int) id]) / 1e6;
        }
        Arrays.sort(lat);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("scenario", sc);
        m.put("contender", "tidesync_history_continuous");
        m.put("rows", (long) measured);
        m.put("transactions_per_s_achieved", Math.round(achieved * 10) / 10.0);
        m.put("p50_ms", pct(lat, 50));
        m.put("p95_ms", pct(lat, 95));
        m.put("p99_ms", pct(lat, 99));
        m.put("max_ms", Bench.round3(lat[lat.length - 1]));
        m.put("delta_commits", watcher.versions);
        m.put("target_p99_ms", 2000);
        m.put("met", pct(lat, 99) <= 2000);
        m.put("verified", true);
        bench.results.add(m);
        Bench.log("  latency: %s", m);
      }
    }
    bench.notes.add("Scenario 4: one-row INSERT transactions (autocommit, synchronous_commit=on) paced at " + latencyRate + "/s for "
        + latencySeconds + " s after " + warmup + " untimed warm-up transactions, into a REPLICA IDENTITY FULL table captured by"
        + " a CONTINUOUS pipeline (all settings default: pollInterval 1 s). Latency = the time a watcher thread (polling the"
        + " history table's _delta_log every 2 ms for the next commit file, then reading the ids of its added Parquet files)"
        + " first sees the row, minus the time the client's commit returned. Verified: every row became visible.");
    dropSlots();
  }

  private static double pct(double[] sorted, int p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return Bench.round3(sorted[Math.max(0, Math.min(sorted.length - 1, i))]);
  }

  /** Follows a Delta table's log: records when each id first appears in a committed file. */
  private static final class Watcher implements Runnable {
    private final Path table;
    private final Map<Long, Long> visible;
    private final ObjectMapper json = new ObjectMapper();
    volatile boolean stop;
    long versions;

    Watcher(Path table, Map<Long, Long> visible) {
      this.table = table;
      this.visible = visible;
    }

    @Override
    public void run() {
      long next = 0;
      StructType idOnly = new StructType().add("id", LongType.LONG);
      while (!stop) {
        Path commit = table.resolve(String.format("_delta_log/%020d.json", next));
        if (!Files.exists(commit)) {
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
          continue;
        }
        long seen = System.nanoTime();
        try {
          List<String> adds = new ArrayList<>();
          for (String line : Files.readAllLines(commit)) {
            JsonNode n = json.readTree(line);
            if (n.has("add")) {
              adds.add(n.get("add").get("path").asText());
            }
          }
          for (String rel : adds) {
            Path f = table.resolve(java.net.URLDecoder.decode(rel, java.nio.charset.StandardCharsets.UTF_8));
            HistoryTables.readFile(FileStatus.of(f.toUri().toString(), Files.size(f), 0), idOnly, b -> {
              ColumnVector v = b.getColumnVector(0);
              for (int r = 0; r < b.getSize(); r++) {
                visible.putIfAbsent(v.getLong(r), seen);
              }
            });
          }
          next++;
          versions++;
        } catch (Exception e) {
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2)); // a commit file caught mid-write: read it again
        }
      }
    }
  }

  // ---------------------------------------------------------------- scenario 5: one large transaction, -Xmx256m

  void memory() throws Exception {
    String sc = "5-memory";
    String table = "cap_mem";
    String name = "bench_cap_mem";
    Path dir = dataDir.resolve("capture-memory-history");
    Bench.deleteRecursively(dir);
    dropSlots();
    exec("DROP TABLE IF EXISTS " + table, "CREATE TABLE " + table + " (" + CaptureWorkload.COLUMNS_DDL + ")",
        "ALTER TABLE " + table + " REPLICA IDENTITY FULL");
    try (SyncPipeline p = historyPipeline(name, dir, List.of(table), SyncMode.TRIGGERED, null)) {
      p.runOnce(); // the (empty) initial snapshot: creates the slot before the big transaction
    }
    Bench.log("scenario 5 (capture half): one %d-row INSERT transaction, captured in a child JVM with -Xmx256m", memoryTxRows);
    exec("INSERT INTO " + table + " " + CaptureWorkload.rowsSelect(1, memoryTxRows));
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = List.of(java, "-Xmx256m", "-cp", Bench.classPath(), CaptureMemoryRun.class.getName(), jdbcUrl,
        dir.toString(), name, name, table);
    Path logFile = dataDir.resolve("capture-memory-child.log");
    Map<String, Object> m = Bench.runChildJvm(cmd, logFile, sc, "tidesync_capture_one_transaction_xmx256m", memoryTxRows);
    bench.results.add(m);
    Bench.check(Boolean.TRUE.equals(m.get("completed")), "the -Xmx256m capture failed (exit " + m.get("exit_code")
        + "); see " + logFile + ":\n" + Bench.tail(Files.readString(logFile)));
    Path history = dir.resolve(DeltaHistorySink.historyTableName(io.tidesync.spi.TableId.of("public", table)));
    TreeMap<String, Long> got = HistoryTables.countByChangeType(history.toString());
    Bench.check(got.equals(new TreeMap<>(Map.of("insert", memoryTxRows))), "history table " + history + " holds " + got
        + ", expected " + memoryTxRows + " inserts");
    Bench.log("  capture memory run: %s", m);
    exec("DROP TABLE IF EXISTS " + table);
    dropSlots();
  }

  private void exec(String... sql) throws Exception {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      for (String q : sql) {
        if (q.startsWith("SELECT")) {
          try (ResultSet rs = s.executeQuery(q)) {
            while (rs.next()) {
              // drain
            }
          }
        } else {
          s.execute(q);
        }
      }
    }
  }
}
