package io.tidesync.postgres.sink;

import static io.tidesync.postgres.sink.SinkTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.tidesync.InvalidSourceDataException;
import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.LogicalType.Kind;
import io.tidesync.spi.Position;
import io.tidesync.spi.TableSchema;
import io.tidesync.testkit.PostgresExtension;
import io.tidesync.testkit.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Snapshot load + atomic swap, leftover load tables, duplicate keys. */
@ExtendWith(PostgresExtension.class)
class SnapshotIT {
  static final TableSchema SCHEMA = TableSchema.of(List.of(Column.of("id", LogicalType.of(Kind.INT64)),
      Column.of("v", LogicalType.of(Kind.STRING))));

  BufferAllocator alloc;

  @BeforeEach
  void setUp() {
    alloc = new RootAllocator();
  }

  @AfterEach
  void tearDown() {
    alloc.close();
  }

  static List<R> rows(long from, long to, String value) {
    List<R> out = new ArrayList<>();
    for (long id = from; id < to; id++) {
      out.add(ins(0, id, value + id));
    }
    return out;
  }

  @Test
  void readersSeeTheOldTableOrTheNewOneNeverAHalfLoadedOne(TestPostgres pg) throws Exception {
    PostgresSink sink = PostgresSink.forTable("\"Snap Shot\"").dataSource(pg.dataSource()).primaryKey("id");
    try (ChangeApplier a = sink.open(context("swap"))) {
      apply(a, snapshot(alloc, SCHEMA, true, 1, rows(0, 100, "old")));
    }
    Set<Long> seen = ConcurrentHashMap.newKeySet();
    AtomicInteger reads = new AtomicInteger();
    AtomicReference<Throwable> readerError = new AtomicReference<>();
    AtomicReference<Boolean> stop = new AtomicReference<>(false);
    Thread reader = new Thread(() -> {
      try (Connection c = pg.connect(); Statement s = c.createStatement()) {
        while (!stop.get()) {
          try (ResultSet rs = s.executeQuery("SELECT count(*) FROM \"Snap Shot\"")) {
            rs.next();
            seen.add(rs.getLong(1));
          }
          reads.incrementAndGet();
        }
      } catch (Throwable t) {
        readerError.set(t);
      }
    }, "snapshot-reader");
    reader.start();
    try (ChangeApplier a = sink.open(context("swap"))) {
      for (int b = 0; b < 3; b++) {
        int before = reads.get();
        await().atMost(Duration.ofSeconds(30)).until(() -> reads.get() > before + 2 || readerError.get() != null);
        ApplyResult r = apply(a, snapshot(alloc, SCHEMA, b == 2, 9, rows(1000 + b * 100, 1100 + b * 100, "new")));
        assertThat(r).isEqualTo(new ApplyResult(100, 0, 0, 0));
        assertThat(a.committedPosition()).contains(Position.of(SOURCE, b == 2 ? 9 : 1));
      }
      int after = reads.get();
      await().atMost(Duration.ofSeconds(30)).until(() -> reads.get() > after + 2 || readerError.get() != null);
    } finally {
      stop.set(true);
      reader.join();
    }
    assertThat(readerError.get()).isNull();
    assertThat(seen).containsExactlyInAnyOrder(100L, 300L);
    assertThat(scalar(pg, "SELECT conname FROM pg_constraint WHERE conrelid = '\"Snap Shot\"'::regclass AND contype = 'p'"))
        .isEqualTo("Snap Shot_pkey");
    assertThat(scalar(pg, "SELECT to_regclass('\"Snap Shot__ts_load\"')")).isNull();
  }

  @Test
  void anInterruptedSnapshotLeavesTheTargetAloneAndTheNextOneRecovers(TestPostgres pg) {
    PostgresSink sink = PostgresSink.forTable("recover").dataSource(pg.dataSource()).primaryKey("id");
    try (ChangeApplier a = sink.open(context("recover"))) {
      apply(a, snapshot(alloc, SCHEMA, true, 1, rows(0, 10, "old")));
      apply(a, snapshot(alloc, SCHEMA, false, 2, rows(0, 50, "half")));
    } // the run ends mid-snapshot: the load table stays behind
    assertThat(count(pg, "recover__ts_load")).isEqualTo(50);
    assertThat(count(pg, "recover")).isEqualTo(10);
    try (ChangeApplier a = sink.open(context("recover"))) {
      assertThat(a.committedPosition()).contains(Position.of(SOURCE, 1));
      apply(a, snapshot(alloc, SCHEMA, false, 2, rows(0, 20, "new")));
      ApplyResult last = apply(a, snapshot(alloc, SCHEMA, true, 2, List.of(ins(0, 20L, "new20"), ins(0, null, "no key"))));
      assertThat(last).isEqualTo(new ApplyResult(1, 0, 0, 1));
      assertThat(a.committedPosition()).contains(Position.of(SOURCE, 2));
    }
    assertThat(count(pg, "recover")).isEqualTo(21);
    assertThat(scalar(pg, "SELECT min(v) FROM recover")).isEqualTo("new0");
    assertThat(scalar(pg, "SELECT to_regclass('recover__ts_load')")).isNull();
  }

  @Test
  void duplicateKeysFailNamingAKeyAndLeaveTheTargetAlone(TestPostgres pg) {
    PostgresSink sink = PostgresSink.forTable("dups").dataSource(pg.dataSource()).primaryKey("id");
    try (ChangeApplier a = sink.open(context("dups"))) {
      apply(a, snapshot(alloc, SCHEMA, true, 1, rows(0, 5, "old")));
      apply(a, snapshot(alloc, SCHEMA, false, 2, rows(0, 10, "new")));
      assertThatThrownBy(() -> apply(a, snapshot(alloc, SCHEMA, true, 2, rows(7, 8, "again"))))
          .isInstanceOf(InvalidSourceDataException.class)
          .hasMessage("dups: cannot load a snapshot into public.dups: the snapshot has duplicate primary key values [id]:"
              + " key (id=7) appears 2 times. The target was left unchanged. Fix the source so that the key is unique, or"
              + " configure primaryKey(..) with the columns that are");
      assertThat(a.committedPosition()).contains(Position.of(SOURCE, 1));
    }
    assertThat(count(pg, "dups")).isEqualTo(5);
    assertThat(scalar(pg, "SELECT to_regclass('dups__ts_load')")).isNull();
  }

  @Test
  void changesFollowASnapshot(TestPostgres pg) {
    PostgresSink sink = PostgresSink.forTable("snapchanges").dataSource(pg.dataSource()).primaryKey("id");
    try (ChangeApplier a = sink.open(context("sc"))) {
      apply(a, snapshot(alloc, SCHEMA, true, 3, rows(0, 3, "s")));
      apply(a, changes(alloc, SCHEMA, 4, List.of(post(4, 1L, "c1"), del(4, 2L, "s2"), ins(4, 9L, "c9"))));
    }
    assertThat(query(pg, SCHEMA, "SELECT * FROM snapchanges ORDER BY id"))
        .containsExactly(List.of(0L, "s0"), List.of(1L, "c1"), List.of(9L, "c9"));
  }
}
