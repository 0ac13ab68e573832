package io.tidesync.examples;

import io.tidesync.SyncMode;
import io.tidesync.SyncPipeline;
import io.tidesync.SyncResult;
import io.tidesync.delta.source.DeltaChangeSource;
import io.tidesync.postgres.sink.PostgresSink;
import io.tidesync.testkit.fixtures.DeltaFixture;
import io.tidesync.testkit.fixtures.DeltaFixtures;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import javax.sql.DataSource;

/**
 * Mirrors a local Delta table into PostgreSQL, with no setup: an embedded PostgreSQL 17 and a Delta
 * table with a real history (written by Apache Spark: inserts, UPDATE, DELETE, MERGE, OPTIMIZE, an
 * added column), shipped in the testkit.
 *
 * <ol>
 *   <li>The table as it was at version 4 lands in a temporary directory; the first TRIGGERED run
 *       copies it (a snapshot).
 *   <li>Versions 5..11 "land" upstream; the second run applies just those changes through the
 *       Change Data Feed, adding the new column on the way.
 * </ol>
 *
 * Run it with {@code mvn -q -B -DskipTests -pl examples -am package exec:java}.
 */
public final class Quickstart {
  private Quickstart() {}

  public static void main(String[] args) throws Exception {
    Path work = Files.createTempDirectory("tidesync-quickstart-");
    File binaries = new File(System.getProperty("java.io.tmpdir"), "tidesync-embedded-pg");
    binaries.mkdirs();
    System.out.println("Starting an embedded PostgreSQL 17 ...");
    try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().setOverrideWorkingDirectory(binaries)
        .setDataDirectory(work.resolve("pgdata").toFile()).setCleanDataDirectory(true).start()) {
      DataSource dataSource = postgres.getPostgresDatabase();

      DeltaFixture fixture = DeltaFixtures.get("basic_history");
      Path table = fixture.copyTo(work.resolve("lake"), 4);
      System.out.println("Delta table at " + table + " (version 4 of " + fixture.latestVersion() + ")");

      SyncPipeline pipeline = SyncPipeline.builder("quickstart-orders")
          .source(DeltaChangeSource.forPath(table.toString()))
          .sink(PostgresSink.forTable("public.orders").dataSource(dataSource).primaryKey("id"))
          .mode(SyncMode.TRIGGERED)
          .build();
      try (pipeline) {
        SyncResult first = pipeline.runOnce();
        System.out.println();
        System.out.println("Run 1 (first run: snapshot): " + first);
        print(dataSource, "public.orders", "after run 1");

        fixture.advance(table, fixture.latestVersion());
        System.out.println("Upstream commits landed: the Delta table is now at version " + fixture.latestVersion());
        SyncResult second = pipeline.runOnce();
        System.out.println();
        System.out.println("Run 2 (changes through the Change Data Feed): " + second);
        print(dataSource, "public.orders", "after run 2");
        print(dataSource, "tidesync.sync_state", "the committed position");
      }
    } finally {
      deleteRecursively(work);
    }
  }

  private static void print(DataSource ds, String table, String when) throws Exception {
    System.out.println("-- " + table + ", " + when + " (first 8 rows):");
    try (Connection c = ds.getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT * FROM " + table + " ORDER BY 1, 2")) {
      ResultSetMetaData md = rs.getMetaData();
      StringBuilder header = new StringBuilder();
      for (int i = 1; i <= md.getColumnCount(); i++) {
        header.append(i > 1 ? " | " : "").append(md.getColumnName(i));
      }
      System.out.println(header);
      int rows = 0;
      while (rs.next()) {
        StringBuilder line = new StringBuilder();
        for (int i = 1; i <= md.getColumnCount(); i++) {
          line.append(i > 1 ? " | " : "").append(rs.getString(i));
        }
        if (rows++ < 8) {
          System.out.println(line);
        }
      }
      System.out.println("(" + rows + " rows in all)");
    }
  }

  private static void deleteRecursively(Path root) throws java.io.IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (var paths = Files.walk(root)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
