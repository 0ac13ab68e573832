package io.tidesync.postgres.sink;

import static io.tidesync.postgres.sink.SinkTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidesync.ApplyFailedException;
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
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Reduction per key and version, null keys, NUL characters; every case in both apply modes. */
@ExtendWith(PostgresExtension.class)
class ChangeApplyIT {
  static final TableSchema SCHEMA = TableSchema.of(List.of(
      Column.of("id", LogicalType.of(Kind.INT32)),
      Column.of("name", LogicalType.of(Kind.STRING)),
      Column.of("updated_at", LogicalType.of(Kind.INT64))));
  static final AtomicInteger TABLES = new AtomicInteger();

  BufferAllocator alloc;
  String table;

  @BeforeEach
  void setUp() {
    alloc = new RootAllocator();
    table = "t" + TABLES.incrementAndGet();
  }

  @AfterEach
  void tearDown() {
    alloc.close();
  }

  PostgresSink sink(TestPostgres pg, ApplyMode mode) {
    return PostgresSink.forTable(table).dataSource(pg.dataSource()).primaryKey("id").applyMode(mode);
  }

  List<List<Object>> rows(TestPostgres pg) {
    return query(pg, SCHEMA, "SELECT id, name, updated_at FROM public." + table + " ORDER BY id");
  }

  @ParameterizedTest
  @EnumSource(value = ApplyMode.class, names = {"COPY_MERGE", "BATCHED_UPSERT"})
  void reducesPerKeyAndVersion(ApplyMode mode, TestPostgres pg) {
    try (ChangeApplier a = sink(pg, mode).open(context("reduce"))) {
      apply(a, changes(alloc, SCHEMA, 1, List.of(ins(1, 1, "a", 1L), ins(1, 2, "b", 1L), ins(1, 3, "c", 1L))));
      ApplyResult r = apply(a, changes(alloc, SCHEMA, 3, List.of(
          // version 2: key 1 deleted before its new insert (a source may order deletes first) -> the insert wins
          del(2, 1, "a", 1L), ins(2, 1, "a2", 2L),
          // key 2: insert then delete in one version: the post-image still wins
          post(2, 2, "b2", 2L), del(2, 2, "b", 1L),
          // key 3: updated in version 2, deleted in version 3: the last version wins
          pre(2, 3, "c", 1L), post(2, 3, "c2", 2L), del(3, 3, "c2", 2L),
          // key 4: identical duplicate post-images are fine
          ins(2, 4, "d", 2L), ins(2, 4, "d", 2L),
          // key 5: inserted in version 2 and updated in version 3
          ins(2, 5, "e", 2L), pre(3, 5, "e", 2L), post(3, 5, "e3", 3L))));
      assertThat(r.deleted()).isEqualTo(1);
      assertThat(r.inserted() + r.updated()).isEqualTo(4);
      assertThat(r.inserted()).isEqualTo(2);
      assertThat(rows(pg)).containsExactly(List.of(1, "a2", 2L), List.of(2, "b2", 2L), List.of(4, "d", 2L), List.of(5, "e3", 3L));
      assertThat(a.committedPosition()).contains(Position.of(SOURCE, 3));
    }
  }

  @ParameterizedTest
  @EnumSource(value = ApplyMode.class, names = {"COPY_MERGE", "BATCHED_UPSERT"})
  void twoDifferentPostImagesInOneVersionFailAndChangeNothing(ApplyMode mode, TestPostgres pg) {
    try (ChangeApplier a = sink(pg, mode).open(context("conflict"))) {
      apply(a, changes(alloc, SCHEMA, 1, List.of(ins(1, 1, "a", 1L))));
      assertThatThrownBy(() -> apply(a, changes(alloc, SCHEMA, 2, List.of(ins(2, 2, "x", 1L), post(2, 7, "b", 1L),
          post(2, 7, "c", 2L)))))
          .isInstanceOf(InvalidSourceDataException.class)
          .hasMessage("conflict: cannot apply changes to public." + table + ": two different post-images of key (id=7) in"
              + " version 2: the source violates its primary key. Fix the source so that the key is unique per version,"
              + " or set timeseriesKey(column) on the sink so that the row with the latest value of that column wins");
      assertThat(rows(pg)).containsExactly(List.of(1, "a", 1L));
      assertThat(a.committedPosition()).contains(Position.of(SOURCE, 1));
    }
  }

  @ParameterizedTest
  @EnumSource(value = ApplyMode.class, names = {"COPY_MERGE", "BATCHED_UPSERT"})
  void timeseriesKeyPicksTheLatestImage(ApplyMode mode, TestPostgres pg) {
    try (ChangeApplier a = sink(pg, mode).timeseriesKey("updated_at").open(context("ts"))) {
      apply(a, changes(alloc, SCHEMA, 1, List.of(post(1, 7, "late", 9L), post(1, 7, "early", 3L), post(1, 8, "null-ts", null),
          post(1, 8, "with-ts", 1L))));
      assertThat(rows(pg)).containsExactly(List.of(7, "late", 9L), List.of(8, "with-ts", 1L));
      assertThatThrownBy(() -> apply(a, changes(alloc, SCHEMA, 2, List.of(post(2, 7, "x", 10L), post(2, 7, "y", 10L)))))
          .isInstanceOf(InvalidSourceDataException.class)
          .hasMessage("ts: cannot apply changes to public." + table + ": two different post-images of key (id=7) in version 2"
              + " have the same updated_at value 10. Fix the source so that the timeseries column orders the changes of a"
              + " key within a version, or choose another timeseriesKey column");
    }
  }

  @ParameterizedTest
  @EnumSource(value = ApplyMode.class, names = {"COPY_MERGE", "BATCHED_UPSERT"})
  void rowsWithANullKeyAreSkippedAndCounted(ApplyMode mode, TestPostgres pg) {
    try (ChangeApplier a = sink(pg, mode).open(context("nullkey"))) {
      ApplyResult r = apply(a, changes(alloc, SCHEMA, 1, List.of(ins(1, null, "lost", 1L), ins(1, 1, "kept", 1L),
          pre(1, null, "lost", 1L), post(1, null, "lost2", 2L), del(1, null, "x", 1L))));
      assertThat(r).isEqualTo(new ApplyResult(1, 0, 0, 3));
      assertThat(rows(pg)).containsExactly(List.of(1, "kept", 1L));
    }
  }

  @ParameterizedTest
  @EnumSource(value = ApplyMode.class, names = {"COPY_MERGE", "BATCHED_UPSERT"})
  void nulCharactersFailByDefaultBeforeAnythingIsWritten(ApplyMode mode, TestPostgres pg) {
    try (ChangeApplier a = sink(pg, mode).open(context("nul"))) {
      apply(a, changes(alloc, SCHEMA, 1, List.of(ins(1, 1, "a", 1L))));
      assertThatThrownBy(() -> apply(a, changes(alloc, SCHEMA, 2, List.of(ins(2, 2, "fine", 1L), ins(2, 3, "bad\0value", 1L)))))
          .isInstanceOf(InvalidSourceDataException.class)
          .hasMessage("nul: cannot apply changes to public." + table + ": column \"name\" of key (id=3) holds a NUL character"
              + " (\\u0000), which PostgreSQL text cannot store. Fix the source value, or set nulBytes(NulBytePolicy.STRIP)"
              + " on the sink to remove NUL characters");
      assertThat(rows(pg)).containsExactly(List.of(1, "a", 1L));
      assertThat(a.committedPosition()).contains(Position.of(SOURCE, 1));
    }
  }

  @ParameterizedTest
  @EnumSource(value = ApplyMode.class, names = {"COPY_MERGE", "BATCHED_UPSERT"})
  void nulCharactersAreStrippedWhenAskedTo(ApplyMode mode, TestPostgres pg) {
    try (ChangeApplier a = sink(pg, mode).nulBytes(NulBytePolicy.STRIP).open(context("strip"))) {
      apply(a, changes(alloc, SCHEMA, 1, List.of(ins(1, 1, "\0a\0b\0", 1L), ins(1, 2, "\0", 1L))));
      assertThat(rows(pg)).containsExactly(List.of(1, "ab", 1L), List.of(2, "", 1L));
    }
  }

  @ParameterizedTest
  @EnumSource(value = ApplyMode.class, names = {"COPY_MERGE", "BATCHED_UPSERT"})
  void emptyBatchMovesThePosition(ApplyMode mode, TestPostgres pg) {
    try (ChangeApplier a = sink(pg, mode).open(context("empty"))) {
      assertThat(a.committedPosition()).isEmpty();
      assertThat(apply(a, changes(alloc, SCHEMA, 5, List.of()))).isEqualTo(ApplyResult.NONE);
      assertThat(a.committedPosition()).contains(Position.of(SOURCE, 5));
    }
  }

  @ParameterizedTest
  @EnumSource(value = ApplyMode.class, names = {"COPY_MERGE", "BATCHED_UPSERT"})
  void sqlErrorsKeepTheirSqlStateAndRetryability(ApplyMode mode, TestPostgres pg) {
    pg.execute("CREATE TABLE public." + table + " (id integer PRIMARY KEY, name text CHECK (name <> 'forbidden'), updated_at bigint)");
    try (ChangeApplier a = sink(pg, mode).open(context("errors"))) {
      apply(a, changes(alloc, SCHEMA, 1, List.of(ins(1, 1, "a", 1L))));
      assertThatThrownBy(() -> apply(a, changes(alloc, SCHEMA, 2, List.of(ins(2, 2, "forbidden", 1L)))))
          .isInstanceOfSatisfying(ApplyFailedException.class, e -> {
            assertThat(e.sqlState()).isEqualTo("23514");
            assertThat(e.isRetryable()).isFalse();
          })
          .hasMessageStartingWith("errors: cannot apply changes to public." + table + ": ERROR: new row for relation")
          .hasMessageEndingWith("[SQLSTATE 23514]. The batch was rolled back and the position did not move; fix the cause"
              + " and run the pipeline again");
      assertThat(a.committedPosition()).contains(Position.of(SOURCE, 1));
      pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
          + " AND pid <> pg_backend_pid() AND backend_type = 'client backend'");
      assertThatThrownBy(() -> apply(a, changes(alloc, SCHEMA, 2, List.of(ins(2, 2, "b", 1L)))))
          .isInstanceOfSatisfying(ApplyFailedException.class, e -> {
            assertThat(e.sqlState()).matches("08...|57P01"); // connection lost, or the termination notice
            assertThat(e.isRetryable()).isTrue();
          })
          .hasMessageEndingWith("The batch was rolled back; retrying may succeed");
    }
    assertThat(rows(pg)).containsExactly(List.of(1, "a", 1L));
  }
}
