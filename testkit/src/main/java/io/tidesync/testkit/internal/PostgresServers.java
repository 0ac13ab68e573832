package io.tidesync.testkit.internal;

import io.tidesync.testkit.TestPostgres;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import org.junit.jupiter.api.Assumptions;

/** The PostgreSQL server a test JVM shares: configured by environment, embedded by default. */
public final class PostgresServers {
  private static volatile PostgresServers shared;

  private final String host;
  private final int port;
  private final String user;
  private final String password;
  private final String adminDatabase;
  private final int serverVersion;

  private PostgresServers(String host, int port, String user, String password, String adminDatabase) {
    this.host = host;
    this.port = port;
    this.user = user;
    this.password = password;
    this.adminDatabase = adminDatabase;
    try (Connection c = connect(adminDatabase); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SHOW server_version_num")) {
      rs.next();
      this.serverVersion = Integer.parseInt(rs.getString(1)) / 10000;
    } catch (SQLException e) {
      throw new IllegalStateException("cannot reach PostgreSQL at " + host + ":" + port + ": " + e.getMessage(), e);
    }
  }

  /** The server of this JVM, started on first use. */
  public static PostgresServers shared() {
    PostgresServers s = shared;
    if (s == null) {
      synchronized (PostgresServers.class) {
        s = shared;
        if (s == null) {
          s = start();
          shared = s;
        }
      }
    }
    return s;
  }

  private static String setting(String name) {
    String v = System.getProperty(name);
    return v != null && !v.isBlank() ? v : System.getenv(name);
  }

  private static PostgresServers start() {
    String url = setting("TIDESYNC_TEST_PG_URL");
    if (url != null && !url.isBlank()) {
      return fromUrl(url);
    }
    if ("testcontainers".equalsIgnoreCase(setting("TIDESYNC_TEST_PG"))) {
      return TestcontainersServer.start();
    }
    return embedded();
  }

  static PostgresServers of(String host, int port, String user, String password, String adminDatabase) {
    return new PostgresServers(host, port, user, password, adminDatabase);
  }

  private static PostgresServers fromUrl(String url) {
    URI uri = URI.create(url.startsWith("jdbc:") ? url.substring(5) : url);
    String user = "postgres";
    String password = "";
    if (uri.getUserInfo() != null) {
      String[] parts = uri.getUserInfo().split(":", 2);
      user = parts[0];
      password = parts.length > 1 ? parts[1] : "";
    }
    String db = uri.getPath() == null || uri.getPath().length() <= 1 ? "postgres" : uri.getPath().substring(1);
    return new PostgresServers(uri.getHost(), uri.getPort() < 0 ? 5432 : uri.getPort(), user, password, db);
  }

  private static PostgresServers embedded() {
    try {
      Path work = Path.of(System.getProperty("java.io.tmpdir"), "tidesync-embedded-pg");
      Files.createDirectories(work);
      Path data = Files.createTempDirectory(work, "data-");
      EmbeddedPostgres pg = EmbeddedPostgres.builder()
          .setOverrideWorkingDirectory(work.toFile())
          .setDataDirectory(data.toFile())
          .setCleanDataDirectory(true)
          .setServerConfig("wal_level", "logical")
          .setServerConfig("max_replication_slots", "32")
          .setServerConfig("max_wal_senders", "32")
          .setServerConfig("max_connections", "300")
          .setServerConfig("max_prepared_transactions", "0")
          .setPGStartupWait(java.time.Duration.ofSeconds(60))
          .start();
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        try {
          pg.close();
        } catch (IOException ignored) {
          // the JVM is ending; the data directory is a temporary one
        }
      }, "tidesync-embedded-pg-stop"));
      return new PostgresServers("localhost", pg.getPort(), "postgres", "", "postgres");
    } catch (IOException e) {
      throw new IllegalStateException("cannot start embedded PostgreSQL: " + e.getMessage()
          + ". Set TIDESYNC_TEST_PG_URL to use an existing server instead", e);
    }
  }

  private Connection connect(String database) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", user);
    if (!password.isEmpty()) {
      p.setProperty("password", password);
    }
    return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + port + "/" + database, p);
  }

  /** Creates (or recreates) a database and describes it. */
  public TestPostgres createDatabase(String name) {
    try (Connection c = connect(adminDatabase); Statement s = c.createStatement()) {
      s.execute("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
      s.execute("CREATE DATABASE \"" + name + "\"");
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create test database " + name + ": " + e.getMessage(), e);
    }
    return new TestPostgres(host, port, name, user, password, serverVersion);
  }

  /** Testcontainers path, loaded only when asked for; skips the test when no Docker engine runs. */
  static final class TestcontainersServer {
    static PostgresServers start() {
      try {
        Class<?> factory = Class.forName("org.testcontainers.DockerClientFactory");
        Object instance = factory.getMethod("instance").invoke(null);
        boolean ok = (Boolean) factory.getMethod("isDockerAvailable").invoke(instance);
        Assumptions.assumeTrue(ok, "TIDESYNC_TEST_PG=testcontainers but no Docker engine is available");
        Class<?> cls = Class.forName("org.testcontainers.postgresql.PostgreSQLContainer");
        Object container = cls.getConstructor(String.class).newInstance("postgres:17");
        cls.getMethod("withCommand", String[].class).invoke(container,
            (Object) new String[] {"postgres", "-c", "wal_level=logical", "-c", "max_replication_slots=32", "-c", "max_wal_senders=32"});
        cls.getMethod("start").invoke(container);
        String host = (String) cls.getMethod("getHost").invoke(container);
        int port = (Integer) cls.getMethod("getMappedPort", Integer.class).invoke(container, 5432);
        String user = (String) cls.getMethod("getUsername").invoke(container);
        String password = (String) cls.getMethod("getPassword").invoke(container);
        String db = (String) cls.getMethod("getDatabaseName").invoke(container);
        return new PostgresServers(host, port, user, password, db);
      } catch (ClassNotFoundException e) {
        Assumptions.abort("TIDESYNC_TEST_PG=testcontainers but Testcontainers (org.testcontainers:testcontainers-postgresql) is not on the test classpath");
        throw new AssertionError(e);
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("cannot start a PostgreSQL container: " + e, e);
      }
    }
  }

}
