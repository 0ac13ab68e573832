package io.tidesync.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tidesync.SyncMode;
import io.tidesync.SyncPipeline;
import io.tidesync.SyncResult;
import io.tidesync.delta.sink.DeltaHistorySink;
import io.tidesync.postgres.source.PostgresChangeSource;
import io.tidesync.spi.TableId;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.BufferedWriter;
import java.io.File;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Writes Delta history tables with Tidesync from an embedded PostgreSQL workload, plus the rows
 * they must hold, for the Spark read-back in {@code fixtures/spark-generator}
 * ({@code VerifyHistoryTables}).
 *
 * <p>The workload is {@link CaptureWorkload}'s (three tables, updates, inserts, deletes) at a small
 * size, captured by one TRIGGERED pipeline that first snapshots the base rows, then by a second
 * run after the workload. The expected rows come from PostgreSQL itself, not from Tidesync: the
 * base rows read before the workload (as {@code insert}), and each statement's rows via
 * {@code RETURNING} (updates also read their old rows first, in the same transaction).
 *
 * <p>Usage: {@code WriteHistoryFixture <output dir> [changes]}: writes {@code <dir>/tables/lb_*_history}
 * and {@code <dir>/expected.jsonl}, one JSON object per expected row: {@code table}, the source
 * columns as text ({@code id}, {@code t}, {@code amount} plain with scale 2, {@code ts} as an ISO
 * instant, {@code n}, {@code flag}) and {@code _change_type}.
 */
public final class WriteHistoryFixture {
  private WriteHistoryFixture() {}

  public static void main(String[] args) throws Exception {
    Path out = Path.of(args[0]).toAbsolutePath();
    long changes = args.length > 1 ? Long.parseLong(args[1]) : 9_000;
    Bench.deleteRecursively(out);
    Files.createDirectories(out);
    Path tables = out.resolve("tables");
    CaptureWorkload w = new CaptureWorkload("hist_t", 2_000, changes);
    File binaries = new File(System.getProperty("java.io.tmpdir"), "tidesync-embedded-pg");
    binaries.mkdirs();
    ObjectMapper json = new ObjectMapper();
    try (EmbeddedPostgres pg = EmbeddedPostgres.builder().setOverrideWorkingDirectory(binaries)
        .setServerConfig("wal_level", "logical").setServerConfig("max_replication_slots", "4").start();
        BufferedWriter expected = Files.newBufferedWriter(out.resolve("expected.jsonl"))) {
      PGSimpleDataSource ds = new PGSimpleDataSource();
      ds.setUrl(pg.getJdbcUrl("postgres", "postgres"));
      w.create(ds);
      try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
        for (int i = 0; i < CaptureWorkload.TABLES; i++) {
          try (ResultSet rs = s.executeQuery("SELECT * FROM " + w.table(i))) {
            write(expected, json, w.table(i), rs, "insert");
          }
        }
      }
      runOnce(ds, w, tables); // snapshot: creates the slot before the workload
      long perTable = (w.transactions + CaptureWorkload.TABLES - 1) / CaptureWorkload.TABLES;
      long updateZone = w.baseRows - 100 * perTable;
      try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
        c.setAutoCommit(false);
        for (int tx = 0; tx < w.transactions; tx++) {
          String t = w.table(tx % CaptureWorkload.TABLES);
          long k = tx / CaptureWorkload.TABLES;
          String ids = "ARRAY(SELECT 1 + ((" + (k * 700) + " + g) % " + updateZone + ") FROM generate_series(0, 699) g)";
          try (ResultSet rs = s.executeQuery("SELECT * FROM " + t + " WHERE id = ANY(" + ids + ")")) {
            write(expected, json, t, rs, "update_preimage");
          }
          try (ResultSet rs = s.executeQuery("UPDATE " + t + " SET n = n + 1, t = md5(t), amount = amount + 1, ts = ts +"
              + " interval '1 second' WHERE id = ANY(" + ids + ") RETURNING *")) {
            write(expected, json, t, rs, "update_postimage");
          }
          try (ResultSet rs = s.executeQuery("INSERT INTO " + t + " " + CaptureWorkload.rowsSelect(w.baseRows + k * 200 + 1,
              w.baseRows + (k + 1) * 200) + " RETURNING *")) {
            write(expected, json, t, rs, "insert");
          }
          try (ResultSet rs = s.executeQuery("DELETE FROM " + t + " WHERE id BETWEEN " + (w.baseRows - k * 100 - 99) + " AND "
              + (w.baseRows - k * 100) + " RETURNING *")) {
            write(expected, json, t, rs, "delete");
          }
          c.commit();
        }
      }
      SyncResult r = runOnce(ds, w, tables);
      Bench.log("captured: %s", r);
      for (int i = 0; i < CaptureWorkload.TABLES; i++) {
        Path table = tables.resolve(DeltaHistorySink.historyTableName(TableId.of("public", w.table(i))));
        var got = HistoryTables.countByChangeType(table.toString());
        Bench.check(got.equals(new java.util.TreeMap<>(w.expectedHistory(i))), table + " holds " + got + ", expected "
            + w.expectedHistory(i));
        Bench.log("%s: %s (Kernel read-back)", table.getFileName(), got);
      }
    }
    Bench.log("wrote %s and %s", tables, out.resolve("expected.jsonl"));
  }

  private static SyncResult runOnce(PGSimpleDataSource ds, CaptureWorkload w, Path dir) {
    try (SyncPipeline p = SyncPipeline.builder("history_fixture")
        .source(PostgresChangeSource.forTables(w.tables().toArray(String[]::new)).dataSource(ds))
        .sink(DeltaHistorySink.intoDirectory(dir.toString()))
        .mode(SyncMode.TRIGGERED)
        .build()) {
      return p.runOnce();
    }
  }

  private static void write(BufferedWriter out, ObjectMapper json, String table, ResultSet rs, String changeType)
      throws Exception {
    List<String> lines = new ArrayList<>();
    while (rs.next()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("table", DeltaHistorySink.historyTableName(TableId.of("public", table)));
      m.put("id", Long.toString(rs.getLong("id")));
      m.put("t", rs.getString("t"));
      BigDecimal amount = rs.getBigDecimal("amount");
      m.put("amount", amount == null ? null : amount.setScale(2).toPlainString());
      OffsetDateTime ts = rs.getObject("ts", OffsetDateTime.class);
      m.put("ts", ts == null ? null : ts.toInstant().toString());
      m.put("n", Integer.toString(rs.getInt("n")));
      Object flag = rs.getObject("flag");
      m.put("flag", flag == null ? null : flag.toString());
      m.put("_change_type", changeType);
      lines.add(json.writeValueAsString(m));
    }
    for (String l : lines) {
      out.write(l);
      out.newLine();
    }
  }
}
