package io.tidesync.bench;

import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;

/**
 * The deterministic Postgres workload of the capture scenarios (3 and the Spark read-back): three
 * tables {@code <prefix>0..2} ({@code REPLICA IDENTITY FULL}) of {@code baseRows} rows each, then
 * {@code changes / 1000} transactions of 1000 changes each (700 updates, 200 inserts, 100 deletes,
 * so 70% / 20% / 10%), the tables taking turns. Updates touch distinct rows of the low part of
 * each table, deletes walk down from its top, inserts add new keys above it, so every statement
 * changes exactly the rows it names and the expected counts are exact.
 */
final class CaptureWorkload {
  static final int TABLES = 3;
  static final String COLUMNS_DDL = "id bigint PRIMARY KEY, t text NOT NULL, amount numeric(12,2), ts timestamptz,"
      + " n int NOT NULL, flag boolean";

  final String prefix;
  final long baseRows;
  final int transactions;

  CaptureWorkload(String prefix, long baseRows, long changes) {
    this.prefix = prefix;
    this.baseRows = baseRows;
    this.transactions = (int) (changes / 1000);
    long perTable = (transactions + TABLES - 1) / TABLES;
    if (baseRows - 100 * perTable < 700) {
      throw new IllegalArgumentException("base rows " + baseRows + " too few for " + changes + " changes");
    }
  }

  String table(int i) {
    return prefix + i;
  }

  List<String> tables() {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < TABLES; i++) {
      out.add(table(i));
    }
    return out;
  }

  /** Transactions of table {@code i}. */
  int transactionsOf(int i) {
    return transactions / TABLES + (i < transactions % TABLES ? 1 : 0);
  }

  long changes() {
    return transactions * 1000L;
  }

  /** Expected history rows by change type for table {@code i} (the initial snapshot counted as inserts). */
  Map<String, Long> expectedHistory(int i) {
    long k = transactionsOf(i);
    Map<String, Long> m = new LinkedHashMap<>();
    m.put("insert", baseRows + 200 * k);
    m.put("update_preimage", 700 * k);
    m.put("update_postimage", 700 * k);
    m.put("delete", 100 * k);
    return m;
  }

  /** Drops and creates the tables with their base rows. */
  void create(DataSource ds) throws Exception {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      for (String t : tables()) {
        s.execute("DROP TABLE IF EXISTS " + t);
        s.execute("CREATE TABLE " + t + " (" + COLUMNS_DDL + ")");
        s.execute("ALTER TABLE " + t + " REPLICA IDENTITY FULL");
        s.execute("INSERT INTO " + t + " " + rowsSelect(1, baseRows));
        s.execute("VACUUM ANALYZE " + t);
      }
    }
  }

  static String rowsSelect(long from, long to) {
    return "SELECT g, md5(g::text), (g % 100000) / 100.0, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second',"
        + " (g % 1000)::int, g % 2 = 0 FROM generate_series(" + from + "::bigint, " + to + "::bigint) g";
  }

  /** Runs the workload: one transaction per 1000 changes. */
  void run(DataSource ds) throws Exception {
    long perTable = (transactions + TABLES - 1) / TABLES;
    long updateZone = baseRows - 100 * perTable;
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      c.setAutoCommit(false);
      for (int tx = 0; tx < transactions; tx++) {
        String t = table(tx % TABLES);
        long k = tx / TABLES;
        s.execute("UPDATE " + t + " SET n = n + 1, t = md5(t), amount = amount + 1, ts = ts + interval '1 second'"
            + " WHERE id = ANY(ARRAY(SELECT 1 + ((" + (k * 700) + " + g) % " + updateZone + ") FROM generate_series(0, 699) g))");
        s.execute("INSERT INTO " + t + " " + rowsSelect(baseRows + k * 200 + 1, baseRows + (k + 1) * 200));
        s.execute("DELETE FROM " + t + " WHERE id BETWEEN " + (baseRows - k * 100 - 99) + " AND " + (baseRows - k * 100));
        c.commit();
      }
    }
  }
}
