package io.tidesync.bench;

import io.tidesync.SyncMode;
import io.tidesync.SyncPipeline;
import io.tidesync.delta.source.DeltaChangeSource;
import io.tidesync.postgres.sink.PostgresSink;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.File;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Where the time of a Tidesync SNAPSHOT goes: runs it a few times on a table Bench wrote, sampling
 * the pipeline thread's stack every 5 ms, and prints the hottest frames (self and inclusive, by
 * method) and the share of samples in reading (Delta/Parquet), encoding and waiting on PostgreSQL.
 *
 * <p>{@code mvn -q -B -f bench/pom.xml exec:java
 * -Dexec.args="--profile <delta table dir> [runs]"}
 */
public final class ProfileSnapshot {
  private ProfileSnapshot() {}

  public static void main(String[] args) throws Exception {
    String table = args[0];
    int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    File binaries = new File(System.getProperty("java.io.tmpdir"), "tidesync-embedded-pg");
    Path pgdata = Path.of(System.getProperty("bench.dir", "bench"), "target/pgdata-profile");
    try (EmbeddedPostgres pg = EmbeddedPostgres.builder().setOverrideWorkingDirectory(binaries)
        .setDataDirectory(pgdata.toFile()).setCleanDataDirectory(true).setServerConfig("max_wal_size", "4GB").start()) {
      PGSimpleDataSource ds = new PGSimpleDataSource();
      ds.setUrl(pg.getJdbcUrl("postgres", "postgres"));
      Thread worker = Thread.currentThread();
      Map<String, Integer> self = new HashMap<>();
      Map<String, Integer> inclusive = new HashMap<>();
      Map<String, Integer> phase = new HashMap<>();
      int[] total = {0};
      AtomicBoolean on = new AtomicBoolean(false);
      Thread sampler = new Thread(() -> {
        while (!Thread.currentThread().isInterrupted()) {
          if (on.get()) {
            StackTraceElement[] st = worker.getStackTrace();
            if (st.length > 0) {
              total[0]++;
              self.merge(frame(st[0]), 1, Integer::sum);
              java.util.Set<String> seen = new java.util.HashSet<>();
              for (StackTraceElement e : st) {
                if (seen.add(frame(e))) {
                  inclusive.merge(frame(e), 1, Integer::sum);
                }
              }
              phase.merge(phase(st), 1, Integer::sum);
            }
          }
          try {
            Thread.sleep(5);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "sampler");
      sampler.setDaemon(true);
      sampler.start();
      for (int i = 0; i < runs; i++) {
        try (SyncPipeline p = SyncPipeline.builder("profile-" + i).source(DeltaChangeSource.forPath(table))
            .sink(PostgresSink.forTable("public.profile_target").dataSource(ds).primaryKey("id"))
            .mode(SyncMode.SNAPSHOT).build()) {
          on.set(i > 0 || runs == 1); // the first run warms up
          long t0 = System.nanoTime();
          var r = p.runOnce();
          Bench.log("run %d: %d rows in %.2f s", i, r.inserted(), (System.nanoTime() - t0) / 1e9);
        }
      }
      on.set(false);
      sampler.interrupt();
      Bench.log("%d samples; by phase:", total[0]);
      phase.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue())
          .forEach(e -> Bench.log("  %5.1f%%  %s", 100.0 * e.getValue() / total[0], e.getKey()));
      Bench.log("hottest frames (self):");
      self.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue()).limit(25)
          .forEach(e -> Bench.log("  %5.1f%%  %s", 100.0 * e.getValue() / total[0], e.getKey()));
      Bench.log("hottest io.tidesync frames (inclusive):");
      inclusive.entrySet().stream().filter(e -> e.getKey().startsWith("io.tidesync"))
          .sorted((a, b) -> b.getValue() - a.getValue()).limit(25)
          .forEach(e -> Bench.log("  %5.1f%%  %s", 100.0 * e.getValue() / total[0], e.getKey()));
    }
  }

  private static String frame(StackTraceElement e) {
    return e.getClassName() + "." + e.getMethodName();
  }

  /** The phase a stack is in, judged by the outermost distinctive frame. */
  private static String phase(StackTraceElement[] st) {
    for (StackTraceElement e : st) {
      String c = e.getClassName();
      if (c.startsWith("org.postgresql.core") || c.startsWith("java.net") || c.startsWith("sun.nio")
          || c.contains("SocketOutputStream") || c.contains("NioSocketImpl")) {
        return "waiting on / writing to the PostgreSQL socket (COPY data, PK build, swap)";
      }
    }
    for (StackTraceElement e : st) {
      String c = e.getClassName();
      if (c.contains("PgBinaryCopyWriter")) {
        return "encoding binary COPY (postgres-sink PgBinaryCopyWriter)";
      }
      if (c.contains("ChangeReducer") || c.contains("PostgresApplier")) {
        return "postgres-sink applier (other)";
      }
    }
    for (StackTraceElement e : st) {
      String c = e.getClassName();
      if (c.startsWith("org.apache.parquet") || c.startsWith("io.delta.kernel.defaults.internal.parquet")) {
        return "Parquet decoding (Kernel default engine)";
      }
      if (c.contains("KernelTable") || c.startsWith("io.tidesync.spi.ChangeBatchBuilder")) {
        return "Kernel rows -> Arrow (delta-source KernelTable + ChangeBatchBuilder)";
      }
      if (c.startsWith("io.delta.kernel")) {
        return "Delta Kernel (log, scan, transform)";
      }
    }
    return "other (" + frame(st[Math.min(st.length - 1, 0)]) + ")";
  }
}
