package io.tidesync.postgres.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidesync.ConfigurationException;
import io.tidesync.SourcePositionLostException;
import io.tidesync.SyncMode;
import io.tidesync.SyncPipeline;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.Position;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SourceContext;
import io.tidesync.testkit.PostgresExtension;
import io.tidesync.testkit.TestPostgres;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class PostgresChangeSourceIT {
  private BufferAllocator allocator;
  private final java.util.List<String> slots = new java.util.ArrayList<>();
  private TestPostgres pg;

  @BeforeEach
  void setUp(TestPostgres pg) {
    this.pg = pg;
    allocator = new RootAllocator(1L << 30);
    pg.execute("ALTER DATABASE " + pg.database() + " SET synchronous_commit = on");
  }

  @AfterEach
  void tearDown() {
    for (String s : slots) {
      pg.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + s + "' AND NOT active");
    }
    allocator.close();
  }

  private PostgresChangeSource source(String slot, String... tables) {
    slots.add(slot);
    return PostgresChangeSource.forTables(tables).dataSource(pg.dataSource()).slotName(slot).publicationName(slot);
  }

  private ChangeReader open(PostgresChangeSource s, Position start, int maxRows) {
    return s.open(new ReadRequest(SyncMode.TRIGGERED, Optional.ofNullable(start)),
        new SourceContext("it", allocator, maxRows, 256L << 20));
  }

  /** Polls until caught up, recording and acknowledging complete batches. */
  private static Position drain(ChangeReader r, CollectingSink sink, Position last) {
    ChangeBatch polled;
    while ((polled = r.poll()) != null) {
      try (ChangeBatch b = polled) {
        sink.record(b);
        if (!b.isPartial()) {
          r.acknowledge(b.endPosition());
          last = b.endPosition();
        }
      }
    }
    return last;
  }

  private long confirmedFlush(String slot) throws Exception {
    try (Connection c = pg.connect(); Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("SELECT (confirmed_flush_lsn - '0/0'::pg_lsn)::int8 FROM pg_replication_slots WHERE slot_name = '" + slot + "'")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  @Test
  void snapshotAndStreamHaveNoGapAndNoOverlap() throws Exception {
    pg.execute("CREATE TABLE snap (id int PRIMARY KEY, v text) ",
        "ALTER TABLE snap REPLICA IDENTITY FULL",
        "INSERT INTO snap SELECT g, 'old' FROM generate_series(1, 50) g");
    PostgresChangeSource s = source("it_snap", "snap");
    CollectingSink sink = new CollectingSink();
    try (ChangeReader r = open(s, null, 10)) {
      ChangeBatch first = r.poll();
      long cp;
      try (first) {
        sink.record(first);
        cp = first.endPosition().offsetAsLong();
      }
      // written while the snapshot is being read: after the consistent point
      pg.execute("INSERT INTO snap VALUES (51, 'new')", "UPDATE snap SET v = 'changed' WHERE id = 50",
          "DELETE FROM snap WHERE id = 49");
      Position end = drain(r, sink, null);
      assertThat(sink.batches.stream().filter(b -> b.type() == BatchType.SNAPSHOT).mapToInt(CollectingSink.Received::rows).sum()).isEqualTo(50);
      assertThat(sink.batches.stream().filter(CollectingSink.Received::lastOfSnapshot)).hasSize(1);
      assertThat(sink.rows.stream().filter(x -> x.xid() == -1).map(x -> x.values().get("v")).distinct()).containsExactly("old");
      List<CollectingSink.Row> changes = sink.changeRows();
      assertThat(changes).extracting(CollectingSink.Row::kind).containsExactly(ChangeKind.INSERT,
          ChangeKind.UPDATE_PREIMAGE, ChangeKind.UPDATE_POSTIMAGE, ChangeKind.DELETE);
      assertThat(changes).allSatisfy(c -> assertThat(c.lsn()).isGreaterThan(cp));
      assertThat(changes.get(2).values()).containsEntry("id", 50).containsEntry("v", "changed");
      assertThat(changes.get(3).values()).containsEntry("id", 49).containsEntry("v", "old");
      assertThat(end.offsetAsLong()).isEqualTo(changes.get(3).lsn());
    }
  }

  @Test
  void updatesKeyChangesDeletesToastAndMultiTableTransactionsEndToEnd() throws Exception {
    pg.execute("CREATE TABLE orders (id int PRIMARY KEY, note text, big text)",
        "CREATE TABLE customers (id int PRIMARY KEY, name text)",
        "INSERT INTO orders VALUES (1, 'a', 'small'), (2, 'b', NULL)",
        "INSERT INTO customers VALUES (1, 'c1')");
    PostgresChangeSource s = source("it_e2e", "public.orders", "customers").replicaIdentity(ReplicaIdentityPolicy.SET_FULL);
    CollectingSink sink = new CollectingSink();
    try (SyncPipeline p = SyncPipeline.builder("e2e").source(s).sink(sink).mode(SyncMode.TRIGGERED).build()) {
      p.runOnce();
    }
    assertThat(sink.rows).hasSize(3);
    assertThat(sink.batches).extracting(CollectingSink.Received::partial).containsExactly(true, false);
    long afterSnapshot = confirmedFlush("it_e2e");
    assertThat(afterSnapshot).isEqualTo(sink.committed.offsetAsLong());

    String big = randomText(new Random(7), 200_000); // incompressible: stored out of line (TOAST)
    pg.execute("UPDATE orders SET big = '" + big + "' WHERE id = 2",
        "UPDATE orders SET note = 'b2' WHERE id = 2", // big unchanged: arrives as an unchanged TOAST value
        "UPDATE orders SET id = 100 WHERE id = 1",
        "DELETE FROM orders WHERE id = 100",
        "BEGIN; INSERT INTO orders VALUES (3, 'x', NULL); INSERT INTO customers VALUES (2, 'c2'); COMMIT");
    assertThat(confirmedFlush("it_e2e")).isEqualTo(afterSnapshot); // nothing acknowledged yet
    int before = sink.batches.size();
    try (SyncPipeline p = SyncPipeline.builder("e2e").source(s).sink(sink).mode(SyncMode.TRIGGERED).build()) {
      p.runOnce();
    }
    List<CollectingSink.Row> orders = sink.changeRows().stream().filter(r -> r.table().name().equals("orders")).toList();
    assertThat(orders).extracting(CollectingSink.Row::kind).containsExactly(
        ChangeKind.UPDATE_PREIMAGE, ChangeKind.UPDATE_POSTIMAGE, ChangeKind.UPDATE_PREIMAGE, ChangeKind.UPDATE_POSTIMAGE,
        ChangeKind.UPDATE_PREIMAGE, ChangeKind.UPDATE_POSTIMAGE, ChangeKind.DELETE, ChangeKind.INSERT);
    assertThat(orders.get(3).values()).containsEntry("note", "b2").containsEntry("big", big); // TOAST filled, not null
    assertThat(orders.get(2).values()).containsEntry("big", big);
    assertThat(orders.get(4).values()).containsEntry("id", 1);   // pre-image: old key
    assertThat(orders.get(5).values()).containsEntry("id", 100); // post-image: new key
    assertThat(orders.get(6).values()).containsEntry("id", 100).containsEntry("note", "a");
    // lsn order, and the multi-table transaction: orders batch partial, customers batch complete, same end
    List<CollectingSink.Received> streamed = sink.batches.subList(before, sink.batches.size());
    CollectingSink.Received last = streamed.get(streamed.size() - 1);
    assertThat(last.partial()).isFalse();
    assertThat(streamed.get(streamed.size() - 2).partial()).isTrue();
    assertThat(streamed.get(streamed.size() - 2).end()).isEqualTo(last.end());
    assertThat(orders.get(7).lsn()).isEqualTo(last.end().offsetAsLong());
    assertThat(sink.rows("customers", ChangeKind.INSERT).get(1).lsn()).isEqualTo(last.end().offsetAsLong());
    assertThat(confirmedFlush("it_e2e")).isGreaterThanOrEqualTo(last.end().offsetAsLong());

    // restart: nothing delivered twice, nothing lost
    pg.execute("INSERT INTO customers VALUES (3, 'c3')");
    int rowsBefore = sink.rows.size();
    try (SyncPipeline p = SyncPipeline.builder("e2e").source(s).sink(sink).mode(SyncMode.TRIGGERED).build()) {
      p.runOnce();
    }
    assertThat(sink.rows.subList(rowsBefore, sink.rows.size())).extracting(r -> r.values().get("id")).containsExactly(3);
  }

  @Test
  void acknowledgeMovesConfirmedFlushOnlyWhenCalledAndRestartSkipsTheResentTransaction() throws Exception {
    pg.execute("CREATE TABLE acks (id int PRIMARY KEY)", "ALTER TABLE acks REPLICA IDENTITY FULL");
    PostgresChangeSource s = source("it_acks", "acks");
    CollectingSink sink = new CollectingSink();
    Position snap;
    try (ChangeReader r = open(s, null, 100)) {
      snap = drain(r, sink, null);
    }
    long cp = confirmedFlush("it_acks");
    Position end;
    try (ChangeReader r = open(s, snap, 100)) {
      pg.execute("INSERT INTO acks VALUES (1)", "INSERT INTO acks VALUES (2)");
      ChangeBatch b = r.poll();
      try (b) {
        sink.record(b);
        end = b.endPosition();
      }
      assertThat(confirmedFlush("it_acks")).isEqualTo(cp);
      r.acknowledge(end);
      org.awaitility.Awaitility.await().until(() -> confirmedFlush("it_acks") == end.offsetAsLong());
    }
    // the server re-sends the transaction committed at confirmed_flush_lsn; the reader drops it
    CollectingSink again = new CollectingSink();
    try (ChangeReader r = open(s, end, 100)) {
      drain(r, again, end);
    }
    assertThat(again.rows).isEmpty();
  }

  @Test
  void largeTransactionArrivesAsPartialBatchesThenACompleteOne() throws Exception {
    bigTransaction("it_big", false);
  }

  @Test
  void streamedLargeTransactionIsSpilledAndEmittedAtCommit() throws Exception {
    pg.execute("ALTER DATABASE " + pg.database() + " SET logical_decoding_work_mem = '64kB'");
    bigTransaction("it_bigstream", true);
  }

  private void bigTransaction(String slot, boolean streaming) throws Exception {
    String table = slot + "_t";
    pg.execute("CREATE TABLE " + table + " (id int PRIMARY KEY, v text, d numeric(12,2), ts timestamptz)",
        "ALTER TABLE " + table + " REPLICA IDENTITY FULL");
    PostgresChangeSource s = source(slot, table).streamLargeTransactions(streaming);
    CollectingSink sink = new CollectingSink();
    Position snap;
    try (ChangeReader r = open(s, null, 10_000)) {
      snap = drain(r, sink, null);
    }
    pg.execute("BEGIN; INSERT INTO " + table + " SELECT g, 'row ' || g, g / 100.0, now() FROM generate_series(1, 100000) g;"
        + " INSERT INTO " + table + " VALUES (-1, 'aborted sub', 0, now()); COMMIT");
    if (streaming) {
      pg.execute("BEGIN; INSERT INTO " + table + " SELECT g, 'never', 0, now() FROM generate_series(200001, 220000) g; ROLLBACK");
    }
    sink.batches.clear();
    sink.rows.clear();
    long t0 = System.nanoTime();
    try (ChangeReader r = open(s, snap, 10_000)) {
      drain(r, sink, snap);
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    System.out.printf("%s: %d changes decoded in %.2f s: %.0f changes/s%n", slot, sink.rows.size(), secs, sink.rows.size() / secs);
    assertThat(sink.rows).hasSize(100_001);
    assertThat(sink.batches).allSatisfy(b -> assertThat(b.rows()).isLessThanOrEqualTo(10_000));
    assertThat(sink.batches.subList(0, sink.batches.size() - 1)).allSatisfy(b -> assertThat(b.partial()).isTrue());
    assertThat(sink.batches.get(sink.batches.size() - 1).partial()).isFalse();
    assertThat(sink.batches.size()).isGreaterThanOrEqualTo(11);
    assertThat(sink.rows.get(99_999).values()).containsEntry("d", new BigDecimal("1000.00")).containsEntry("v", "row 100000");
  }

  @Test
  void everySupportedTypeDecodesTheSameInSnapshotAndStream() throws Exception {
    pg.execute("CREATE TYPE mood AS ENUM ('sad', 'happy')",
        "CREATE TABLE types (id int PRIMARY KEY, b bool, i2 int2, i8 int8, n numeric(10,3), nu numeric, f4 float4,"
            + " f8 float8, vc varchar(10), bp char(3), u uuid, j json, jb jsonb, by bytea, d date, t time, ts timestamp,"
            + " tz timestamptz, e mood, ai int4[], at text[])",
        "ALTER TABLE types REPLICA IDENTITY FULL");
    String values = " true, -5, 9000000000, 1234567.125, 123456789012345678901234567890.123456789, 1.5, 'NaN',"
        + " 'abc', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\":1}', '{\"b\": [1, 2]}', '\\x00ff10',"
        + " '0044-03-15 BC', '13:14:15.5', '2024-02-29 23:59:59.999999', '2024-06-01 12:00:00+02', 'happy',"
        + " '{1,NULL,3}', '{\"x y\",\"q\\\"\"}'";
    pg.execute("INSERT INTO types VALUES (1," + values + ")");
    PostgresChangeSource s = source("it_types", "types");
    CollectingSink sink = new CollectingSink();
    Position snap;
    try (ChangeReader r = open(s, null, 100)) {
      snap = drain(r, sink, null);
      pg.execute("INSERT INTO types VALUES (2," + values + ")");
      drain(r, sink, snap);
    }
    assertThat(sink.rows).hasSize(2);
    Map<String, Object> a = new java.util.HashMap<>(sink.rows.get(0).values());
    Map<String, Object> b = new java.util.HashMap<>(sink.rows.get(1).values());
    assertThat(a.remove("id")).isEqualTo(1);
    assertThat(b.remove("id")).isEqualTo(2);
    assertThat((byte[]) a.remove("by")).containsExactly(0x00, 0xff, 0x10);
    assertThat((byte[]) b.remove("by")).containsExactly(0x00, 0xff, 0x10);
    assertThat(b).isEqualTo(a);
    assertThat(a).containsEntry("b", true).containsEntry("i2", (short) -5).containsEntry("i8", 9000000000L)
        .containsEntry("n", new BigDecimal("1234567.125"))
        .containsEntry("nu", "123456789012345678901234567890.123456789").containsEntry("f4", 1.5f)
        .containsEntry("f8", Double.NaN).containsEntry("vc", "abc").containsEntry("bp", "ab ")
        .containsEntry("u", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").containsEntry("j", "{\"a\":1}")
        .containsEntry("jb", "{\"b\": [1, 2]}").containsEntry("d", LocalDate.of(-43, 3, 15))
        .containsEntry("t", "13:14:15.500000").containsEntry("ts", LocalDateTime.of(2024, 2, 29, 23, 59, 59, 999_999_000))
        .containsEntry("tz", Instant.parse("2024-06-01T10:00:00Z")).containsEntry("e", "happy")
        .containsEntry("ai", "[1,null,3]").containsEntry("at", "[\"x y\",\"q\\\"\"]");
  }

  @Test
  void replicaIdentityNotFullListsEveryTableWithTheStatements() {
    pg.execute("CREATE TABLE rid1 (id int PRIMARY KEY)", "CREATE TABLE rid2 (id int PRIMARY KEY)");
    assertThatThrownBy(() -> open(source("it_rid", "rid1", "public.rid2"), null, 10))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("it: cannot open postgres source: invalid configuration (1 problem): 1) tables [public.rid1,"
            + " public.rid2] do not have REPLICA IDENTITY FULL, which history capture needs (old rows of updates and"
            + " deletes). Run: ALTER TABLE \"public\".\"rid1\" REPLICA IDENTITY FULL; ALTER TABLE \"public\".\"rid2\""
            + " REPLICA IDENTITY FULL; or set .replicaIdentity(ReplicaIdentityPolicy.SET_FULL)");
  }

  @Test
  void missingTableAndUnsupportedTypeAreListedTogether() {
    pg.execute("CREATE TABLE geo (id int PRIMARY KEY, p point)", "ALTER TABLE geo REPLICA IDENTITY FULL");
    assertThatThrownBy(() -> open(source("it_bad", "geo", "nosuch"), null, 10))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("it: cannot open postgres source: invalid configuration (2 problems): 1) column p of table"
            + " public.geo has type point, which history capture does not support (supported: bool, int2, int4, int8,"
            + " numeric, float4, float8, text, varchar, bpchar, uuid, json, jsonb, bytea, date, time, timestamp,"
            + " timestamptz, enums, and arrays of these). Change the column's type or leave the table out; 2) table"
            + " public.nosuch does not exist in database " + pg.database() + ": create it or fix the name passed to"
            + " forTables(..)");
  }

  @Test
  void droppedSlotWithASinkPositionIsPositionLost() {
    pg.execute("CREATE TABLE lost (id int PRIMARY KEY)", "ALTER TABLE lost REPLICA IDENTITY FULL");
    Position p = Position.of("postgres:it_lost@" + pg.database(), 12345);
    assertThatThrownBy(() -> open(source("it_lost", "lost"), p, 10))
        .isInstanceOf(SourcePositionLostException.class)
        .hasMessage("it: cannot open postgres source: replication slot it_lost on database " + pg.database()
            + " does not exist, but the sink has position " + p + ": changes after it may be lost. Re-snapshot: drop"
            + " the sink's history position (its history tables or resume marker) and run again, which creates the"
            + " slot and copies the tables");
  }

  @Test
  void existingPublicationWithoutTheTableNamesTheAlterPublication() {
    pg.execute("CREATE TABLE pubt (id int PRIMARY KEY)", "ALTER TABLE pubt REPLICA IDENTITY FULL",
        "CREATE PUBLICATION it_pub");
    assertThatThrownBy(() -> open(source("it_pub", "pubt"), null, 10))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("it: cannot open postgres source: publication it_pub does not contain [\"public\".\"pubt\"]. Run:"
            + " ALTER PUBLICATION \"it_pub\" ADD TABLE \"public\".\"pubt\" (or choose another publicationName)");
  }

  @Test
  void userWithoutRightsGetsTheGrantRemedy() {
    pg.execute("CREATE TABLE perm (id int PRIMARY KEY)", "ALTER TABLE perm REPLICA IDENTITY FULL",
        "DROP ROLE IF EXISTS it_weak", "CREATE ROLE it_weak LOGIN");
    org.postgresql.ds.PGSimpleDataSource ds = (org.postgresql.ds.PGSimpleDataSource) pg.dataSource();
    ds.setUser("it_weak");
    slots.add("it_perm");
    PostgresChangeSource s = PostgresChangeSource.forTables("perm").dataSource(ds).slotName("it_perm");
    assertThatThrownBy(() -> open(s, null, 10))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("it: cannot open postgres source: cannot create publication tidesync_it: ERROR:"
            + " permission denied for database " + pg.database() + " (SQLSTATE 42501). Creating a publication needs"
            + " CREATE on the database and ownership of the tables")
        .hasMessageContaining("have the owner run CREATE PUBLICATION \"tidesync_it\" FOR TABLE \"public\".\"perm\"");
    pg.execute("CREATE PUBLICATION tidesync_it FOR TABLE perm");
    assertThatThrownBy(() -> open(s, null, 10))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("it: cannot open a replication connection: FATAL: permission denied to start WAL sender")
        .hasMessageEndingWith("Give the user the REPLICATION attribute: ALTER ROLE \"it_weak\" REPLICATION");
  }

  @Test
  void truncateFailsByDefaultNamingTheTable() {
    pg.execute("CREATE TABLE trunc (id int PRIMARY KEY)", "ALTER TABLE trunc REPLICA IDENTITY FULL");
    PostgresChangeSource s = source("it_trunc", "trunc");
    CollectingSink sink = new CollectingSink();
    try (ChangeReader r = open(s, null, 10)) {
      drain(r, sink, null);
      pg.execute("TRUNCATE trunc");
      assertThatThrownBy(() -> drain(r, sink, null))
          .isInstanceOf(ConfigurationException.class)
          .hasMessageStartingWith("it: cannot capture TRUNCATE of table public.trunc at LSN ")
          .hasMessageEndingWith(": a truncate has no row changes to record. Set .truncates(TruncatePolicy.IGNORE) to"
              + " skip truncates, or re-snapshot (drop the history position)");
    }
  }

  private static String randomText(Random r, int n) {
    StringBuilder sb = new StringBuilder(n);
    for (int i = 0; i < n; i++) {
      sb.append((char) ('a' + r.nextInt(26)));
    }
    return sb.toString();
  }
}
