package io.tidesync.postgres.source.internal;

import io.tidesync.ConfigurationException;
import io.tidesync.TidesyncException;
import io.tidesync.spi.ReplicationConnectionFactory;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Properties;
import javax.sql.DataSource;
import org.postgresql.PGProperty;
import org.postgresql.ds.common.BaseDataSource;

/** Opens plain and logical replication connections for one source. */
final class Connections {
  private final SourceSettings settings;

  Connections(SourceSettings settings) {
    this.settings = settings;
  }

  Connection plain() {
    try {
      return settings.dataSource().getConnection();
    } catch (SQLException e) {
      throw failure("open a connection", e);
    }
  }

  /** A connection with {@code replication=database}, simple query mode, as pgjdbc's replication API needs. */
  Connection replication() {
    if (settings.replicationConnections() != null) {
      return settings.replicationConnections().get();
    }
    ReplicationConnectionFactory factory = unwrap(settings.dataSource(), ReplicationConnectionFactory.class);
    if (factory != null) {
      try {
        return factory.openReplicationConnection();
      } catch (SQLException e) {
        if (e.getCause() instanceof TidesyncException credentials) {
          throw credentials; // no credential could be had: that error already names the cause and the remedy
        }
        throw replicationFailure(e, null);
      }
    }
    BaseDataSource base = unwrap(settings.dataSource(), BaseDataSource.class);
    if (base == null) {
      throw new ConfigurationException(settings.pipeline() + ": cannot open a replication connection: the dataSource ("
          + settings.dataSource().getClass().getName() + ") is neither a pgjdbc DataSource whose settings can be copied"
          + " nor a " + ReplicationConnectionFactory.class.getSimpleName() + ". Pass a DataSource that implements "
          + ReplicationConnectionFactory.class.getName() + " (such as LakebaseDataSource), or"
          + " .replicationConnections(() -> connection opened with replication=database, preferQueryMode=simple)");
    }
    Properties p = new Properties();
    for (PGProperty prop : PGProperty.values()) {
      String v = base.getProperty(prop);
      if (v != null) {
        prop.set(p, v);
      }
    }
    if (base.getUser() != null) {
      PGProperty.USER.set(p, base.getUser());
    }
    if (base.getPassword() != null) {
      PGProperty.PASSWORD.set(p, base.getPassword());
    }
    PGProperty.REPLICATION.set(p, "database");
    PGProperty.ASSUME_MIN_SERVER_VERSION.set(p, "10");
    PGProperty.PREFER_QUERY_MODE.set(p, "simple");
    String[] hosts = base.getServerNames();
    int[] ports = base.getPortNumbers();
    StringBuilder url = new StringBuilder("jdbc:postgresql://");
    for (int i = 0; i < hosts.length; i++) {
      url.append(i == 0 ? "" : ",").append(hosts[i]);
      if (ports != null && ports.length > i && ports[i] != 0) {
        url.append(':').append(ports[i]);
      }
    }
    url.append('/').append(base.getDatabaseName() == null ? "" : base.getDatabaseName());
    try {
      Connection c = new org.postgresql.Driver().connect(url.toString(), p);
      if (c == null) {
        throw new SQLException("pgjdbc did not accept " + url);
      }
      return c;
    } catch (SQLException e) {
      throw replicationFailure(e, base.getUser());
    }
  }

  private TidesyncException replicationFailure(SQLException e, String user) {
    if ("42501".equals(e.getSQLState()) || "28000".equals(e.getSQLState())) {
      return new ConfigurationException(settings.pipeline() + ": cannot open a replication connection: "
          + e.getMessage() + ". Give the user the REPLICATION attribute: ALTER ROLE "
          + QualifiedName.quote(user == null ? "<user>" : user) + " REPLICATION", e);
    }
    return failure("open a replication connection", e);
  }

  private static <T> T unwrap(DataSource ds, Class<T> type) {
    if (type.isInstance(ds)) {
      return type.cast(ds);
    }
    try {
      return ds.isWrapperFor(type) ? ds.unwrap(type) : null;
    } catch (SQLException e) {
      return null;
    }
  }

  TidesyncException failure(String what, SQLException e) {
    return new TidesyncException(settings.pipeline() + ": cannot " + what + " to the captured database: "
        + e.getMessage() + " (SQLSTATE " + e.getSQLState() + "). Check that the server is reachable", e, true);
  }
}
