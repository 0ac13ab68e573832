package io.tidesync.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class PostgresExtensionIT {

  @Test
  void givesAnOwnDatabaseOnALogicalReplicationServer(TestPostgres pg) throws Exception {
    assertThat(pg.database()).contains("postgresextensionit");
    assertThat(pg.serverVersion()).isGreaterThanOrEqualTo(15);
    try (Connection c = pg.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW wal_level")) {
      rs.next();
      assertThat(rs.getString(1)).isEqualTo("logical");
    }
  }

  @Test
  void sameDatabaseForEveryTestOfAClass(TestPostgres pg) {
    pg.execute("CREATE TABLE IF NOT EXISTS marker(id int)");
    TestPostgres other = PostgresExtension.newDatabase("other");
    assertThat(other.database()).isNotEqualTo(pg.database());
  }
}
