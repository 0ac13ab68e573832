package io.tidesync.postgres.sink;

import io.tidesync.spi.ChangeSink;
import io.tidesync.spi.TableId;
import io.tidesync.spi.TableSchema;
import io.tidesync.testkit.ChangeSinkContract;
import io.tidesync.testkit.PostgresExtension;
import io.tidesync.testkit.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.ExtendWith;

/** The Postgres sink meets the contract every state-mirroring sink meets; subclasses pick the apply mode. */
@ExtendWith(PostgresExtension.class)
abstract class PostgresSinkContract extends ChangeSinkContract {
  TestPostgres pg;

  @BeforeEach
  void database(TestPostgres pg) {
    this.pg = pg;
  }

  abstract ApplyMode mode();

  @Override
  protected ChangeSink sinkFor(TableId table, List<String> key) {
    return PostgresSink.forTable("contract." + table.name()).dataSource(pg.dataSource())
        .primaryKey(key.toArray(new String[0])).applyMode(mode());
  }

  @Override
  protected Map<List<Object>, Map<String, Object>> targetRows(TableId table, TableSchema schema) {
    Map<List<Object>, Map<String, Object>> out = new LinkedHashMap<>();
    try (Connection c = pg.connect(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT id, name, amount FROM contract." + table.name())) {
      while (rs.next()) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", rs.getLong(1));
        row.put("name", rs.getString(2));
        row.put("amount", rs.getBigDecimal(3));
        out.put(List.of(rs.getLong(1)), row);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
    return out;
  }
}
