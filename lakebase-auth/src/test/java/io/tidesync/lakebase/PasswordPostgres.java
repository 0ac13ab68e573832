package io.tidesync.lakebase;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import javax.sql.DataSource;

/**
 * An embedded PostgreSQL that, like Lakebase, takes passwords over TCP (scram-sha-256) for role
 * {@value #ROLE}, whose password the fake Databricks API rotates. The superuser logs in by trust.
 */
final class PasswordPostgres implements AutoCloseable {
  static final String ROLE = "sp-app@corp";
  static final String DATABASE = "app";

  private final EmbeddedPostgres pg;

  PasswordPostgres() {
    try {
      File work = new File(System.getProperty("java.io.tmpdir"), "tidesync-embedded-pg");
      work.mkdirs();
      this.pg = EmbeddedPostgres.builder()
          .setOverrideWorkingDirectory(work)
          .setServerConfig("wal_level", "logical")
          .setServerConfig("max_replication_slots", "8")
          .setServerConfig("max_wal_senders", "8")
          .setServerConfig("password_encryption", "scram-sha-256")
          .setPGStartupWait(Duration.ofSeconds(60))
          .setDataDirectoryCustomizer(dir -> {
            try {
              Files.writeString(dir.toPath().resolve("pg_hba.conf"), String.join("\n",
                  "local all all trust",
                  "host all postgres 127.0.0.1/32 trust",
                  "host all postgres ::1/128 trust",
                  "host replication postgres 127.0.0.1/32 trust",
                  "host all all 127.0.0.1/32 scram-sha-256",
                  "host all all ::1/128 scram-sha-256",
                  "host replication all 127.0.0.1/32 scram-sha-256",
                  "host replication all ::1/128 scram-sha-256", ""));
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          })
          .start();
      try (Connection c = superuser().getConnection(); Statement s = c.createStatement()) {
        s.execute("CREATE ROLE \"" + ROLE + "\" LOGIN REPLICATION PASSWORD NULL");
        s.execute("CREATE DATABASE " + DATABASE + " OWNER \"" + ROLE + "\"");
      }
    } catch (IOException | SQLException e) {
      throw new IllegalStateException("cannot start the password-authenticated embedded PostgreSQL: " + e, e);
    }
  }

  int port() {
    return pg.getPort();
  }

  DataSource superuser() {
    return pg.getPostgresDatabase();
  }

  DataSource superuser(String database) {
    return pg.getDatabase("postgres", database);
  }

  /** Makes {@code token} the role's only password, valid until {@code expiresAt} (checked at login). */
  void rotate(String token, Instant expiresAt) {
    try (Connection c = superuser().getConnection(); Statement s = c.createStatement()) {
      s.execute("ALTER ROLE \"" + ROLE + "\" PASSWORD '" + token.replace("'", "''") + "' VALID UNTIL '" + expiresAt + "'");
    } catch (SQLException e) {
      throw new IllegalStateException("cannot rotate the role password: " + e.getSQLState(), e);
    }
  }

  @Override
  public void close() throws IOException {
    pg.close();
  }
}
