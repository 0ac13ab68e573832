package io.tidesync.bench;

import io.tidesync.SyncMode;
import io.tidesync.SyncPipeline;
import io.tidesync.SyncResult;
import io.tidesync.delta.source.DeltaChangeSource;
import io.tidesync.postgres.sink.PostgresSink;
import java.nio.file.Files;
import java.nio.file.Path;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Scenario 5 (snapshot half), the child JVM: one Tidesync SNAPSHOT of a Delta table into
 * PostgreSQL at default pipeline settings, in whatever heap the parent gave it ({@code -Xmx256m}).
 * Prints {@code RESULT rows=<n> ms=<t> vmhwm_kb=<peak RSS>}; the parent verifies the target.
 *
 * <p>Arguments: table path, JDBC URL, target table, pipeline name.
 */
public final class MemoryRun {
  private MemoryRun() {}

  public static void main(String[] args) throws Exception {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setUrl(args[1]);
    long t0 = System.nanoTime();
    SyncResult r;
    try (SyncPipeline p = SyncPipeline.builder(args[3])
        .source(DeltaChangeSource.forPath(args[0]))
        .sink(PostgresSink.forTable(args[2]).dataSource(ds).primaryKey("id"))
        .mode(SyncMode.SNAPSHOT)
        .build()) {
      r = p.runOnce();
    }
    long ms = (System.nanoTime() - t0) / 1_000_000;
    System.out.println("RESULT rows=" + r.inserted() + " ms=" + ms + " vmhwm_kb=" + vmHwmKb() + " heap_max_mb="
        + Runtime.getRuntime().maxMemory() / (1 << 20));
  }

  /** Peak resident set size of this process (Linux), or -1. */
  static long vmHwmKb() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (Exception e) {
      return -1;
    }
    return -1;
  }
}
