package io.tidesync.postgres.sink;

import static io.tidesync.postgres.sink.SinkTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidesync.ConfigurationException;
import io.tidesync.SchemaMismatchException;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.LogicalType.Kind;
import io.tidesync.spi.Position;
import io.tidesync.spi.TableSchema;
import io.tidesync.testkit.PostgresExtension;
import io.tidesync.testkit.TestPostgres;
import java.math.BigDecimal;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Target creation, additive evolution and mismatches, with identifiers that need quoting. */
@ExtendWith(PostgresExtension.class)
class TargetSchemaIT {
  BufferAllocator alloc;

  @BeforeEach
  void setUp() {
    alloc = new RootAllocator();
  }

  @AfterEach
  void tearDown() {
    alloc.close();
  }

  @Test
  void createsSchemaTableAndKeyWithAwkwardIdentifiers(TestPostgres pg) {
    TableSchema schema = TableSchema.of(List.of(
        Column.of("Order ID", LogicalType.of(Kind.INT64)),
        Column.of("say \"hi\"", LogicalType.of(Kind.STRING)),
        Column.of("Ünïcødé ✓", LogicalType.of(Kind.INT32)),
        Column.of("select", LogicalType.of(Kind.BOOLEAN))));
    PostgresSink sink = PostgresSink.forTable("\"My Schema\".\"Orders; DROP TABLE x\"").dataSource(pg.dataSource())
        .primaryKey("Order ID", "Ünïcødé ✓").stateSchema("Täglich \"state\"");
    for (ApplyMode mode : new ApplyMode[] {ApplyMode.COPY_MERGE, ApplyMode.BATCHED_UPSERT}) {
      try (ChangeApplier a = sink.applyMode(mode).open(context("awkward " + mode))) {
        apply(a, changes(alloc, schema, 1, List.of(ins(1, 1L, "a", 1, true), ins(1, 2L, "b", 2, false))));
        apply(a, changes(alloc, schema, 2, List.of(post(2, 1L, "a2", 1, false), del(2, 2L, "b", 2, false))));
        assertThat(a.committedPosition()).contains(Position.of(SOURCE, 2));
      }
      assertThat(query(pg, schema, "SELECT * FROM \"My Schema\".\"Orders; DROP TABLE x\""))
          .containsExactly(Arrays.asList(1L, "a2", 1, false));
    }
    assertThat(scalar(pg, "SELECT string_agg(a.attname || ':' || a.attnotnull, ',' ORDER BY a.attnum) FROM pg_index i"
        + " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        + " WHERE i.indrelid = '\"My Schema\".\"Orders; DROP TABLE x\"'::regclass AND i.indisprimary"))
        .isEqualTo("Order ID:true,Ünïcødé ✓:true");
    assertThat(scalar(pg, "SELECT position FROM \"Täglich \"\"state\"\"\".sync_state WHERE pipeline = 'awkward COPY_MERGE'"
        + " AND target = '\"My Schema\".\"Orders; DROP TABLE x\"'")).isEqualTo("2");
  }

  @Test
  void addsNewSourceColumnsAndKeepsExtraTargetColumns(TestPostgres pg) {
    pg.execute("CREATE TABLE public.evolve (id bigint PRIMARY KEY, a text, note text DEFAULT 'kept', extra int)");
    TableSchema v1 = TableSchema.of(List.of(Column.of("id", LogicalType.of(Kind.INT64)), Column.of("a", LogicalType.of(Kind.STRING))));
    TableSchema v2 = TableSchema.of(List.of(Column.of("id", LogicalType.of(Kind.INT64)), Column.of("a", LogicalType.of(Kind.STRING)),
        Column.of("Price €", LogicalType.decimal(12, 2))));
    try (ChangeApplier a = PostgresSink.forTable("evolve").dataSource(pg.dataSource()).primaryKey("id").open(context("evolve"))) {
      apply(a, changes(alloc, v1, 1, List.of(ins(1, 1L, "x"))));
      apply(a, changes(alloc, v2, 2, List.of(ins(2, 2L, "y", new BigDecimal("9.99")), post(2, 1L, "x2", new BigDecimal("1.00")))));
    }
    assertThat(query(pg, v2, "SELECT id, a, \"Price €\" FROM evolve ORDER BY id")).containsExactly(
        List.of(1L, "x2", new BigDecimal("1.00")), List.of(2L, "y", new BigDecimal("9.99")));
    assertThat(scalar(pg, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'evolve'::regclass"
        + " AND attname = 'Price €'")).isEqualTo("numeric(12,2)");
    assertThat(scalar(pg, "SELECT string_agg(note, ',') FROM evolve")).isEqualTo("kept,kept");
  }

  @Test
  void aRetypedColumnStopsWithTheRemedy(TestPostgres pg) {
    pg.execute("CREATE TABLE public.retyped (id bigint PRIMARY KEY, amount integer)");
    TableSchema schema = TableSchema.of(List.of(Column.of("id", LogicalType.of(Kind.INT64)), Column.of("amount", LogicalType.decimal(10, 2))));
    try (ChangeApplier a = PostgresSink.forTable("retyped").dataSource(pg.dataSource()).primaryKey("id").open(context("retype"))) {
      assertThatThrownBy(() -> apply(a, changes(alloc, schema, 1, List.of(ins(1, 1L, new BigDecimal("1.50"))))))
          .isInstanceOf(SchemaMismatchException.class)
          .hasMessage("retype: cannot apply changes to public.retyped: the target does not match the source: column \"amount\""
              + " is integer in the target but the source's decimal(10,2) maps to numeric(10,2). Re-snapshot the table"
              + " (SyncMode.SNAPSHOT) to rebuild it from the source, or change the target by hand (or set columnType(..) on"
              + " the sink) to match");
      assertThat(a.committedPosition()).isEmpty();
    }
  }

  @Test
  void aMissingKeyColumnStopsWithTheRemedy(TestPostgres pg) {
    pg.execute("CREATE TABLE public.nokey (other bigint PRIMARY KEY, v text)");
    TableSchema schema = TableSchema.of(List.of(Column.of("id", LogicalType.of(Kind.INT64)), Column.of("v", LogicalType.of(Kind.STRING))));
    try (ChangeApplier a = PostgresSink.forTable("nokey").dataSource(pg.dataSource()).primaryKey("id").open(context("nokey"))) {
      assertThatThrownBy(() -> apply(a, changes(alloc, schema, 1, List.of(ins(1, 1L, "v")))))
          .isInstanceOf(SchemaMismatchException.class)
          .hasMessageContaining("primary key column \"id\" is missing in the target")
          .hasMessageEndingWith("Re-snapshot the table (SyncMode.SNAPSHOT) to rebuild it from the source, or change the"
              + " target by hand (or set columnType(..) on the sink) to match");
    }
  }

  @Test
  void columnTypeOverridesCreateCastAndCheck(TestPostgres pg) {
    TableSchema schema = TableSchema.of(List.of(Column.of("id", LogicalType.of(Kind.INT64)),
        Column.of("price", LogicalType.of(Kind.FLOAT64)), Column.of("doc", LogicalType.of(Kind.STRING))));
    PostgresSink sink = PostgresSink.forTable("overridden").dataSource(pg.dataSource()).primaryKey("id")
        .columnType("price", "NUMERIC(12, 2)").columnType("doc", "jsonb");
    for (ApplyMode mode : new ApplyMode[] {ApplyMode.COPY_MERGE, ApplyMode.BATCHED_UPSERT}) {
      try (ChangeApplier a = sink.applyMode(mode).open(context("override " + mode))) {
        apply(a, changes(alloc, schema, 1, List.of(ins(1, 1L, 9.999, "{\"a\": 1}"), ins(1, 2L, 1.5, "[1]"))));
        apply(a, changes(alloc, schema, 2, List.of(post(2, 2L, 2.25, "[2]"))));
      }
    }
    assertThat(scalar(pg, "SELECT string_agg(id || '=' || price || ' ' || doc::text, ',' ORDER BY id) FROM overridden"))
        .isEqualTo("1=10.00 {\"a\": 1},2=2.25 [2]");
    assertThat(scalar(pg, "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute"
        + " WHERE attrelid = 'overridden'::regclass AND attnum > 0")).isEqualTo("bigint,numeric(12,2),jsonb");
    assertThatThrownBy(() -> sink.columnType("price", "no_such_type").open(context("bad type")))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("bad type: cannot use columnType(\"price\", \"no_such_type\"): PostgreSQL does not accept it"
            + " as a column type (ERROR: type \"no_such_type\" does not exist");
  }

  @Test
  void keyComesFromTheSourceWhenAskedAndMissingColumnsAreConfigurationErrors(TestPostgres pg) {
    TableSchema keyed = TableSchema.of(List.of(Column.of("id", LogicalType.of(Kind.INT32)), Column.of("v", LogicalType.of(Kind.STRING))),
        List.of("id"));
    try (ChangeApplier a = PostgresSink.forTable("keyed").dataSource(pg.dataSource()).primaryKeyFromSource().open(context("keyed"))) {
      apply(a, changes(alloc, keyed, 1, List.of(ins(1, 1, "a"))));
      assertThatThrownBy(() -> apply(a, changes(alloc, keyed.withPrimaryKey(List.of()), 2, List.of(ins(2, 2, "b")))))
          .isInstanceOf(ConfigurationException.class)
          .hasMessage("keyed: postgres table public.keyed: invalid configuration (1 problem): 1) no primary key: the source"
              + " lake.src has none; set primaryKey(..) on the sink");
    }
    try (ChangeApplier a = PostgresSink.forTable("keyed").dataSource(pg.dataSource()).primaryKey("nope").timeseriesKey("ts")
        .open(context("keyed2"))) {
      assertThatThrownBy(() -> apply(a, changes(alloc, keyed, 1, List.of(ins(1, 1, "a")))))
          .isInstanceOf(ConfigurationException.class)
          .hasMessage("keyed2: postgres table public.keyed: invalid configuration (2 problems): 1) primary key column \"nope\""
              + " is not a column of the source lake.src [id, v]; 2) timeseriesKey column \"ts\" is not a column of the source"
              + " [id, v]");
    }
  }
}
