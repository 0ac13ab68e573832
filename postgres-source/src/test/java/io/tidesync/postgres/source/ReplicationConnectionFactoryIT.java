package io.tidesync.postgres.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.tidesync.ConfigurationException;
import io.tidesync.SyncMode;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.ReplicationConnectionFactory;
import io.tidesync.spi.SourceContext;
import io.tidesync.testkit.PostgresExtension;
import io.tidesync.testkit.TestPostgres;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Data sources that are not pgjdbc's: replication connections come from a
 * {@link ReplicationConnectionFactory} the data source implements, or the source says what to do.
 */
@ExtendWith(PostgresExtension.class)
class ReplicationConnectionFactoryIT {
  private BufferAllocator allocator;
  private final List<String> slots = new ArrayList<>();
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
      pg.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + s
          + "' AND NOT active");
    }
    allocator.close();
  }

  private ChangeReader open(DataSource ds, String slot, String table) {
    slots.add(slot);
    PostgresChangeSource s = PostgresChangeSource.forTables(table).dataSource(ds).slotName(slot).publicationName(slot);
    return s.open(new ReadRequest(SyncMode.TRIGGERED, Optional.empty()), new SourceContext("it", allocator, 100, 256L << 20));
  }

  @Test
  void aDataSourceThatOpensReplicationConnectionsItselfIsCaptured() throws Exception {
    pg.execute("CREATE TABLE factory_made (id int PRIMARY KEY, v text)", "ALTER TABLE factory_made REPLICA IDENTITY FULL",
        "INSERT INTO factory_made VALUES (1, 'snapshot')");
    OwnReplicationConnections ds = new OwnReplicationConnections(pg);
    CollectingSink sink = new CollectingSink();
    try (ChangeReader r = open(ds, "it_factory", "factory_made")) {
      pg.execute("INSERT INTO factory_made VALUES (2, 'streamed')");
      await().atMost(Duration.ofSeconds(30)).until(() -> {
        ChangeBatch polled;
        while ((polled = r.poll()) != null) {
          try (ChangeBatch b = polled) {
            sink.record(b);
            if (!b.isPartial()) {
              r.acknowledge(b.endPosition());
            }
          }
        }
        return !sink.changeRows().isEmpty();
      });
    }
    assertThat(sink.rows.stream().filter(x -> x.xid() == -1).map(x -> x.values().get("v"))).containsExactly("snapshot");
    assertThat(sink.changeRows()).extracting(CollectingSink.Row::kind).containsExactly(ChangeKind.INSERT);
    assertThat(sink.changeRows().get(0).values()).containsEntry("id", 2).containsEntry("v", "streamed");
    assertThat(ds.replicationLogins.get()).as("replication connections opened through the factory").isPositive();
    assertThat(ds.plainLogins.get()).as("plain connections from the data source itself").isPositive();
  }

  @Test
  void aDataSourceThatCannotOpenReplicationConnectionsIsAClearConfigurationError() {
    pg.execute("CREATE TABLE not_copyable (id int PRIMARY KEY, v text)", "ALTER TABLE not_copyable REPLICA IDENTITY FULL");
    PlainOnly ds = new PlainOnly(pg);
    assertThatThrownBy(() -> open(ds, "it_not_copyable", "not_copyable").close())
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("it: cannot open a replication connection: the dataSource (" + PlainOnly.class.getName() + ") is"
            + " neither a pgjdbc DataSource whose settings can be copied nor a ReplicationConnectionFactory. Pass a"
            + " DataSource that implements io.tidesync.spi.ReplicationConnectionFactory (such as LakebaseDataSource), or"
            + " .replicationConnections(() -> connection opened with replication=database, preferQueryMode=simple)");
  }

  /** A data source that is not pgjdbc's and does not unwrap to it, as a pool or a proxy may be. */
  static class PlainOnly implements DataSource {
    final TestPostgres pg;
    final AtomicInteger plainLogins = new AtomicInteger();

    PlainOnly(TestPostgres pg) {
      this.pg = pg;
    }

    @Override
    public Connection getConnection() throws SQLException {
      plainLogins.incrementAndGet();
      return pg.dataSource().getConnection();
    }

    @Override
    public Connection getConnection(String username, String password) throws SQLException {
      throw new SQLFeatureNotSupportedException("fixed user");
    }

    @Override
    public PrintWriter getLogWriter() {
      return null;
    }

    @Override
    public void setLogWriter(PrintWriter out) {}

    @Override
    public void setLoginTimeout(int seconds) {}

    @Override
    public int getLoginTimeout() {
      return 0;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      throw new SQLFeatureNotSupportedException("no java.util.logging");
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
      if (iface.isInstance(this)) {
        return iface.cast(this);
      }
      throw new SQLException("not a wrapper for " + iface.getName());
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) {
      return iface.isInstance(this);
    }
  }

  /** {@link PlainOnly}, plus replication connections of its own making. */
  static final class OwnReplicationConnections extends PlainOnly implements ReplicationConnectionFactory {
    final AtomicInteger replicationLogins = new AtomicInteger();

    OwnReplicationConnections(TestPostgres pg) {
      super(pg);
    }

    @Override
    public Connection openReplicationConnection() throws SQLException {
      replicationLogins.incrementAndGet();
      return pg.replicationDataSource().getConnection();
    }
  }
}
