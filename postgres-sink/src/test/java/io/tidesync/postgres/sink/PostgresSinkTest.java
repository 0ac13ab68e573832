package io.tidesync.postgres.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidesync.ConfigurationException;
import io.tidesync.SyncMode;
import io.tidesync.spi.SinkContext;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

class PostgresSinkTest {
  @Test
  void aCompleteSinkIsValid() {
    PostgresSink sink = PostgresSink.forTable("public.user_profiles").dataSource(new PGSimpleDataSource()).primaryKey("user_id");
    assertThat(sink.validate()).isEmpty();
    assertThat(sink.describe()).isEqualTo("postgres table public.user_profiles");
    assertThat(PostgresSink.forTable("t").dataSource(new PGSimpleDataSource()).primaryKeyFromSource().validate()).isEmpty();
  }

  @Test
  void isAnImmutableValue() {
    PostgresSink base = PostgresSink.forTable("t");
    PostgresSink withDs = base.dataSource(new PGSimpleDataSource()).primaryKey("id");
    assertThat(base.validate()).hasSize(2);
    assertThat(withDs.validate()).isEmpty();
  }

  @Test
  void validateListsEveryProblem() {
    PostgresSink sink = PostgresSink.forTable(" ").primaryKey("id", "id", " ").copyThreshold(0).columnType(" ", "text")
        .columnType("price", "").timeseriesKey("").stateSchema("");
    assertThat(sink.validate()).containsExactly(
        "forTable: the table name is blank; give \"table\" or \"schema.table\"",
        "dataSource: not set; call dataSource(ds) with the target database's DataSource",
        "primaryKey: column \"id\" is listed twice; list each key column once",
        "primaryKey: a column name is blank; give the source's column names",
        "copyThreshold: 0 is not a row count; give 1 or more (default 1000)",
        "columnType: an override has a blank column name; give the source column's name",
        "columnType(\"price\"): the type is blank; give a PostgreSQL type such as numeric(12,2)",
        "timeseriesKey: the column name is blank; give a column name or leave it unset",
        "stateSchema: blank; give a schema name (default \"tidesync\")");
  }

  @Test
  void missingKeyAndBadNameAreReported() {
    assertThat(PostgresSink.forTable("a.b.c").dataSource(new PGSimpleDataSource()).validate()).containsExactly(
        "forTable(\"a.b.c\"): expected table or schema.table, found 3 parts; give \"table\", \"schema.table\" or quoted"
            + " parts such as \"\\\"My Schema\\\".\\\"Orders\\\"\"",
        "primaryKey: not set; call primaryKey(\"column\", ..), or primaryKeyFromSource() for sources that carry a key"
            + " (Postgres)");
  }

  @Test
  void openRefusesAnInvalidSinkWithoutIo() {
    assertThatThrownBy(() -> PostgresSink.forTable("t").open(new SinkContext("p1", SyncMode.TRIGGERED, "src")))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("p1: postgres table t: invalid configuration (2 problems): 1) dataSource: not set; call dataSource(ds)"
            + " with the target database's DataSource; 2) primaryKey: not set; call primaryKey(\"column\", ..), or"
            + " primaryKeyFromSource() for sources that carry a key (Postgres)");
  }
}
