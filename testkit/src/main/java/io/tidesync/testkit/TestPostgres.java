package io.tidesync.testkit;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import javax.sql.DataSource;
import org.postgresql.PGProperty;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * One database on a real PostgreSQL server, given to a test by {@link PostgresExtension}: its own
 * database (so test classes do not see each other's tables) on a server shared by the JVM.
 *
 * @param host server host
 * @param port server port
 * @param database the test's own database
 * @param user a superuser (replication, slot and publication management allowed)
 * @param password the user's password (may be empty for trust authentication)
 * @param serverVersion the server's major version, e.g. 17
 */
public record TestPostgres(String host, int port, String database, String user, String password, int serverVersion) {

  /** {@code jdbc:postgresql://host:port/database}. */
  public String jdbcUrl() {
    return "jdbc:postgresql://" + host + ":" + port + "/" + database;
  }

  /** A plain (unpooled) DataSource for the test database. */
  public DataSource dataSource() {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setServerNames(new String[] {host});
    ds.setPortNumbers(new int[] {port});
    ds.setDatabaseName(database);
    ds.setUser(user);
    if (password != null && !password.isEmpty()) {
      ds.setPassword(password);
    }
    return ds;
  }

  /**
   * A DataSource whose connections are logical replication connections ({@code replication=database},
   * simple query mode), as pgjdbc's replication API requires.
   */
  public DataSource replicationDataSource() {
    PGSimpleDataSource ds = (PGSimpleDataSource) dataSource();
    ds.setReplication("database");
    ds.setAssumeMinServerVersion("10");
    ds.setPreferQueryMode(org.postgresql.jdbc.PreferQueryMode.SIMPLE);
    return ds;
  }

  /** Connection properties for {@link java.sql.DriverManager}, with user and password. */
  public Properties connectionProperties() {
    Properties p = new Properties();
    PGProperty.USER.set(p, user);
    if (password != null && !password.isEmpty()) {
      PGProperty.PASSWORD.set(p, password);
    }
    return p;
  }

  /** Opens a connection to the test database; the caller closes it. */
  public Connection connect() throws SQLException {
    return dataSource().getConnection();
  }

  /** Runs SQL statements (DDL, DML) in autocommit mode. */
  public void execute(String... sql) {
    try (Connection c = connect(); Statement s = c.createStatement()) {
      for (String q : sql) {
        s.execute(q);
      }
    } catch (SQLException e) {
      throw new IllegalStateException("SQL failed on " + jdbcUrl() + ": " + e.getMessage(), e);
    }
  }
}
