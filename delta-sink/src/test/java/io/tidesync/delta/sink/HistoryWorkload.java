package io.tidesync.delta.sink;

import io.tidesync.testkit.TestPostgres;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.StringJoiner;
import java.util.function.Function;

/**
 * A seeded random workload over three Postgres tables (every supported type, NULLs, TOASTed text,
 * composite key) and its model: the canonical current rows and, per committed transaction, the
 * multiset of (table, change type, row image) it must leave in the history tables.
 *
 * <p>Canonical values: both sides are turned into strings through {@link #canon(Object)} from the
 * Java values the source produces (Postgres is read with casts that give the source's forms:
 * unbounded numeric, time, uuid, enums and json as text, arrays as JSON arrays).
 *
 * <p>Within one transaction each key is touched at most once (old and new key of a key change
 * included), which keeps the model simple; several changes of one row in one transaction are
 * covered by HistoryCaptureIT#severalChangesOfOneRowInOneTransactionAreOrderedBySeq.
 */
final class HistoryWorkload {
  /** A column: name, SQL type, the select expression that yields the source's form, and how to read it. */
  record Col(String name, String sqlType, String select, Function<Random, String> gen) {}

  /** A captured table. */
  static final class Table {
    final String name;
    final List<Col> cols;
    final List<String> key;
    final Map<String, Map<String, String>> rows = new HashMap<>();
    final List<String> keys = new ArrayList<>();
    final Map<String, Integer> keyIndex = new HashMap<>();

    Table(String name, List<Col> cols, List<String> key) {
      this.name = name;
      this.cols = cols;
      this.key = key;
    }

    String selectList() {
      StringJoiner j = new StringJoiner(", ");
      cols.forEach(c -> j.add(c.select + " AS " + c.name));
      return j.toString();
    }

    String keyOf(Map<String, String> row) {
      StringJoiner j = new StringJoiner("\u0001");
      key.forEach(k -> j.add(String.valueOf(row.get(k))));
      return j.toString();
    }

    void put(Map<String, String> row) {
      String k = keyOf(row);
      if (rows.put(k, row) == null) {
        keyIndex.put(k, keys.size());
        keys.add(k);
      }
    }

    void remove(String k) {
      rows.remove(k);
      int i = keyIndex.remove(k);
      String last = keys.remove(keys.size() - 1);
      if (i < keys.size()) {
        keys.set(i, last);
        keyIndex.put(last, i);
      }
    }

    Col col(String n) {
      return cols.stream().filter(c -> c.name.equals(n)).findFirst().orElseThrow();
    }
  }

  /** One committed source transaction: its changes as canonical strings, and the tables it touched. */
  static final class Txn {
    final List<String> changes = new ArrayList<>();
    final Set<String> tables = new HashSet<>();
    long commitLsn = -1;
  }

  final String prefix;
  final Random rnd;
  final Table all;
  final Table small;
  final Table comp;
  final List<Table> tables;
  long nextId = 1;

  HistoryWorkload(String prefix, long seed) {
    this.prefix = prefix;
    this.rnd = new Random(seed);
    all = new Table(prefix + "all", List.of(
        new Col("id", "int8", "id", r -> null),
        new Col("b", "bool", "b", r -> Boolean.toString(r.nextBoolean())),
        new Col("i2", "int2", "i2", r -> Integer.toString((short) r.nextInt())),
        new Col("i4", "int4", "i4", r -> Integer.toString(r.nextInt())),
        new Col("n", "numeric(12,2)", "n", r -> BigDecimal.valueOf(r.nextLong() % 10_000_000_000L, 2).toPlainString()),
        new Col("nu", "numeric", "nu::text", r -> r.nextInt(10) == 0 ? "NaN"
            : new BigDecimal(new java.math.BigInteger(130, r), r.nextInt(30)).negate().toPlainString()),
        new Col("f4", "float4", "f4", r -> r.nextInt(15) == 0 ? "NaN" : Float.toString((r.nextFloat() - 0.5f) * 1e6f)),
        new Col("f8", "float8", "f8", r -> r.nextInt(15) == 0 ? "-Infinity" : Double.toString(r.nextGaussian() * 1e12)),
        new Col("tx", "text", "tx", r -> text(r, r.nextInt(40))),
        new Col("vc", "varchar(20)", "vc", r -> text(r, r.nextInt(20))),
        new Col("bp", "char(4)", "bp", r -> ascii(r, r.nextInt(5))),
        new Col("u", "uuid", "u::text", r -> new java.util.UUID(r.nextLong(), r.nextLong()).toString()),
        new Col("j", "json", "j::text", r -> "{\"a\":  " + r.nextInt(100) + ", \"s\": \"" + plain(r, 5) + "\"}"),
        new Col("jb", "jsonb", "jb::text", r -> "{\"k\": [" + r.nextInt(9) + ", null, true], \"t\": \"é" + plain(r, 3) + "\"}"),
        new Col("by", "bytea", "by", r -> {
          byte[] b = new byte[r.nextInt(40)];
          r.nextBytes(b);
          return "\\x" + HexFormat.of().formatHex(b);
        }),
        new Col("d", "date", "d", r -> LocalDate.ofEpochDay(r.nextInt(80_000) - 25_000).toString()),
        new Col("t", "time", "to_char(t, 'HH24:MI:SS.US')", r -> String.format("%02d:%02d:%02d.%06d", r.nextInt(24),
            r.nextInt(60), r.nextInt(60), r.nextInt(1_000_000))),
        new Col("ts", "timestamp", "ts", r -> LocalDateTime.of(1950 + r.nextInt(120), 1 + r.nextInt(12), 1 + r.nextInt(28),
            r.nextInt(24), r.nextInt(60), r.nextInt(60), r.nextInt(1_000_000) * 1000).toString()),
        new Col("tz", "timestamptz", "tz", r -> OffsetDateTime.of(1950 + r.nextInt(120), 1 + r.nextInt(12), 1 + r.nextInt(28),
            r.nextInt(24), r.nextInt(60), r.nextInt(60), r.nextInt(1_000_000) * 1000,
            java.time.ZoneOffset.ofHours(r.nextInt(25) - 12)).toString()),
        new Col("e", prefix + "mood", "e::text", r -> List.of("sad", "happy", "ok").get(r.nextInt(3))),
        new Col("ai", "int4[]", "array_to_json(ai)::text", r -> {
          StringJoiner j = new StringJoiner(",", "{", "}");
          for (int i = r.nextInt(5); i > 0; i--) {
            j.add(r.nextInt(8) == 0 ? "NULL" : Integer.toString(r.nextInt()));
          }
          return j.toString();
        }),
        new Col("at", "text[]", "array_to_json(at)::text", r -> {
          StringJoiner j = new StringJoiner(",", "{", "}");
          for (int i = r.nextInt(4); i > 0; i--) {
            j.add(r.nextInt(8) == 0 ? "NULL" : "\"" + ascii(r, r.nextInt(6)).replace("\\", "\\\\").replace("\"", "\\\"") + "\"");
          }
          return j.toString();
        }),
        new Col("big", "text", "big", r -> r.nextInt(3) == 0 ? letters(r, 9_000 + r.nextInt(12_000)) : text(r, 10))),
        List.of("id"));
    small = new Table(prefix + "small", List.of(
        new Col("k", "int4", "k", r -> null),
        new Col("v", "text", "v", r -> text(r, r.nextInt(30))),
        new Col("n", "numeric(12,2)", "n", r -> BigDecimal.valueOf(r.nextInt(), 2).toPlainString())),
        List.of("k"));
    comp = new Table(prefix + "comp", List.of(
        new Col("a", "int4", "a", r -> null),
        new Col("b", "text", "b", r -> null),
        new Col("payload", "jsonb", "payload::text", r -> "{\"x\": " + r.nextInt(1000) + "}")),
        List.of("a", "b"));
    tables = List.of(all, small, comp);
  }

  List<String> ddl() {
    List<String> out = new ArrayList<>();
    out.add("CREATE TYPE " + prefix + "mood AS ENUM ('sad', 'happy', 'ok')");
    for (Table t : tables) {
      StringJoiner j = new StringJoiner(", ", "CREATE TABLE " + t.name + " (", ", PRIMARY KEY (" + String.join(", ", t.key) + "))");
      t.cols.forEach(c -> j.add(c.name + " " + c.sqlType));
      out.add(j.toString());
      out.add("ALTER TABLE " + t.name + " REPLICA IDENTITY FULL");
    }
    return out;
  }

  static String text(Random r, int n) {
    String alphabet = "abcdefghijklmnopqrstuvwxyz ABC'\"\\,{}é✓€\n";
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append(alphabet.charAt(r.nextInt(alphabet.length())));
    }
    return sb.toString();
  }

  static String ascii(Random r, int n) {
    String alphabet = "abcxyz XY'\",\\";
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append(alphabet.charAt(r.nextInt(alphabet.length())));
    }
    return sb.toString();
  }

  static String plain(Random r, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append("abcxyz XY".charAt(r.nextInt(9)));
    }
    return sb.toString();
  }

  /** Random letters: compresses poorly enough that 9 kB and more stay out of line (TOAST). */
  static String letters(Random r, int n) {
    StringBuilder sb = new StringBuilder(n);
    for (int i = 0; i < n; i++) {
      sb.append((char) ('a' + r.nextInt(26)));
    }
    return sb.toString();
  }

  /** The canonical string of a value as the history (Kernel) or JDBC gives it. */
  static String canon(Object v) {
    if (v == null) {
      return "<null>";
    }
    if (v instanceof byte[] b) {
      return "\\x" + HexFormat.of().formatHex(b);
    }
    if (v instanceof BigDecimal d) {
      return d.toPlainString();
    }
    if (v instanceof OffsetDateTime o) {
      return o.toInstant().toString();
    }
    return v.toString();
  }

  /** Reads the current row of a result set (of {@link Table#selectList()}) in canonical form. */
  static Map<String, String> read(Table t, ResultSet rs) throws SQLException {
    Map<String, String> row = new LinkedHashMap<>();
    for (int i = 0; i < t.cols.size(); i++) {
      Col c = t.cols.get(i);
      Object v = switch (c.sqlType) {
        case "int2" -> rs.getObject(i + 1) == null ? null : rs.getShort(i + 1);
        case "float4" -> rs.getObject(i + 1) == null ? null : rs.getFloat(i + 1);
        case "float8" -> rs.getObject(i + 1) == null ? null : rs.getDouble(i + 1);
        case "bytea" -> rs.getBytes(i + 1);
        case "date" -> rs.getObject(i + 1, LocalDate.class);
        case "timestamp" -> rs.getObject(i + 1, LocalDateTime.class);
        case "timestamptz" -> rs.getObject(i + 1, OffsetDateTime.class);
        default -> rs.getObject(i + 1);
      };
      row.put(c.name, canon(v));
    }
    return row;
  }

  /** Canonical form of a history row's source columns. */
  static Map<String, String> fromHistory(Table t, Map<String, Object> h) {
    Map<String, String> row = new LinkedHashMap<>();
    t.cols.forEach(c -> row.put(c.name, canon(h.get(c.name))));
    return row;
  }

  static String change(Table t, String kind, Map<String, String> row) {
    return t.name + " " + kind + " " + row;
  }

  /** Every table's rows read from Postgres, keyed. */
  static Map<String, Map<String, String>> current(TestPostgres pg, Table t) throws SQLException {
    Map<String, Map<String, String>> out = new HashMap<>();
    try (Connection c = pg.connect(); PreparedStatement ps = c.prepareStatement("SELECT " + t.selectList() + " FROM " + t.name);
         ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        Map<String, String> row = read(t, rs);
        out.put(t.keyOf(row), row);
      }
    }
    return out;
  }

  /** Loads the model from the tables (after an initial load that is captured by the snapshot). */
  void loadModel(TestPostgres pg) throws SQLException {
    for (Table t : tables) {
      current(pg, t).values().forEach(t::put);
    }
  }

  // ---------------------------------------------------------------- operations

  /** Runs one random transaction of 1..maxOps operations over random tables, and returns its model. */
  Txn randomTransaction(Connection c, int maxOps) throws SQLException {
    Txn txn = new Txn();
    Set<String> touched = new HashSet<>();
    int ops = 1 + rnd.nextInt(maxOps);
    for (int i = 0; i < ops; i++) {
      Table t = tables.get(rnd.nextInt(tables.size()));
      int what = rnd.nextInt(10);
      if (t.keys.size() < 5 || what < 4) {
        insert(c, t, txn, touched);
      } else if (what < 8) {
        update(c, t, txn, touched, rnd.nextInt(6) == 0);
      } else {
        delete(c, t, txn, touched);
      }
    }
    c.commit();
    return txn;
  }

  private List<String> newKey(Table t) {
    long id = nextId++;
    if (t == comp) {
      return List.of(Long.toString(id % 1000), "b" + id + ascii(rnd, 2).replace("\u0001", ""));
    }
    return List.of(Long.toString(t == small ? id + 2_000_000 : id));
  }

  private static String placeholders(Table t, List<Col> cols) {
    StringJoiner j = new StringJoiner(", ");
    cols.forEach(c -> j.add("?::" + c.sqlType));
    return j.toString();
  }

  void insert(Connection c, Table t, Txn txn, Set<String> touched) throws SQLException {
    List<String> key = newKey(t);
    List<String> values = new ArrayList<>();
    for (int i = 0; i < t.cols.size(); i++) {
      Col col = t.cols.get(i);
      values.add(i < key.size() ? key.get(i) : rnd.nextInt(7) == 0 ? null : col.gen.apply(rnd));
    }
    StringJoiner names = new StringJoiner(", ");
    t.cols.forEach(col -> names.add(col.name));
    Map<String, String> row = one(c, t, "INSERT INTO " + t.name + " (" + names + ") VALUES (" + placeholders(t, t.cols)
        + ") RETURNING " + t.selectList(), values);
    String k = t.keyOf(row);
    touched.add(t.name + k);
    t.put(row);
    txn.tables.add(t.name);
    txn.changes.add(change(t, "insert", row));
  }

  private String pickUntouched(Table t, Set<String> touched) {
    for (int attempt = 0; attempt < 20; attempt++) {
      String k = t.keys.get(rnd.nextInt(t.keys.size()));
      if (!touched.contains(t.name + k)) {
        return k;
      }
    }
    return null;
  }

  private String where(Table t) {
    StringJoiner j = new StringJoiner(" AND ");
    t.key.forEach(k -> j.add(k + " = ?::" + t.col(k).sqlType));
    return j.toString();
  }

  void update(Connection c, Table t, Txn txn, Set<String> touched, boolean changeKey) throws SQLException {
    String k = pickUntouched(t, touched);
    if (k == null) {
      return;
    }
    Map<String, String> before = t.rows.get(k);
    List<String> params = new ArrayList<>();
    StringJoiner set = new StringJoiner(", ");
    for (Col col : t.cols) {
      boolean isKey = t.key.contains(col.name);
      // big stays unchanged in half of the updates: it then arrives as an unchanged TOAST value
      if (isKey || rnd.nextInt(col.name.equals("big") ? 4 : 2) != 0) {
        continue;
      }
      set.add(col.name + " = ?::" + col.sqlType);
      params.add(rnd.nextInt(7) == 0 ? null : col.gen.apply(rnd));
    }
    List<String> newKey = changeKey ? newKey(t) : null;
    if (newKey != null) {
      for (int i = 0; i < t.key.size(); i++) {
        set.add(t.key.get(i) + " = ?::" + t.col(t.key.get(i)).sqlType);
        params.add(newKey.get(i));
      }
    }
    if (set.length() == 0) { // no column chosen: rewrite the first non-key column with its own value
      Col col = t.cols.get(t.key.size());
      set.add(col.name + " = " + col.name);
    }
    params.addAll(List.of(k.split("\u0001", -1)));
    Map<String, String> after = one(c, t, "UPDATE " + t.name + " SET " + set + " WHERE " + where(t) + " RETURNING "
        + t.selectList(), params);
    String k2 = t.keyOf(after);
    touched.add(t.name + k);
    touched.add(t.name + k2);
    t.remove(k);
    t.put(after);
    txn.tables.add(t.name);
    txn.changes.add(change(t, "update_preimage", before));
    txn.changes.add(change(t, "update_postimage", after));
  }

  void delete(Connection c, Table t, Txn txn, Set<String> touched) throws SQLException {
    String k = pickUntouched(t, touched);
    if (k == null) {
      return;
    }
    Map<String, String> old = one(c, t, "DELETE FROM " + t.name + " WHERE " + where(t) + " RETURNING " + t.selectList(),
        List.of(k.split("\u0001", -1)));
    touched.add(t.name + k);
    t.remove(k);
    txn.tables.add(t.name);
    txn.changes.add(change(t, "delete", old));
  }

  /** Inserts {@code n} rows into the small table with one statement (no commit). */
  void bulkInsertSmall(Connection c, Txn txn, int n) throws SQLException {
    long from = nextId + 2_000_000;
    nextId += n;
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + small.name + " SELECT g, 'bulk ' || g, g / 100.0"
        + " FROM generate_series(?::int4, ?::int4) g RETURNING " + small.selectList())) {
      ps.setLong(1, from);
      ps.setLong(2, from + n - 1);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Map<String, String> row = read(small, rs);
          small.put(row);
          txn.changes.add(change(small, "insert", row));
        }
      }
    }
    txn.tables.add(small.name);
  }

  private static Map<String, String> one(Connection c, Table t, String sql, List<String> params) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.size(); i++) {
        ps.setString(i + 1, params.get(i));
      }
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw new IllegalStateException("no row from " + sql + " " + params);
        }
        Map<String, String> row = read(t, rs);
        if (rs.next()) {
          throw new IllegalStateException("two rows from " + sql);
        }
        return row;
      }
    }
  }
}
