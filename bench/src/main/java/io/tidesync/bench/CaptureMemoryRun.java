package io.tidesync.bench;

import io.tidesync.SyncMode;
import io.tidesync.SyncPipeline;
import io.tidesync.SyncResult;
import io.tidesync.delta.sink.DeltaHistorySink;
import io.tidesync.postgres.source.PostgresChangeSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Scenario 5 (capture half), the child JVM: one TRIGGERED run of Tidesync's history pipeline
 * (PostgresChangeSource into DeltaHistorySink, default settings) that catches up with whatever
 * the slot holds, in the heap the parent gave it ({@code -Xmx256m}). Prints
 * {@code RESULT rows=<n> ms=<t> vmhwm_kb=<peak RSS>}; the parent checks the history table.
 *
 * <p>Arguments: JDBC URL, history directory, pipeline name, slot, table.
 */
public final class CaptureMemoryRun {
  private CaptureMemoryRun() {}

  public static void main(String[] args) throws Exception {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setUrl(args[0]);
    long t0 = System.nanoTime();
    SyncResult r;
    try (SyncPipeline p = SyncPipeline.builder(args[2])
        .source(PostgresChangeSource.forTables(args[4]).dataSource(ds).slotName(args[3]).publicationName(args[3]))
        .sink(DeltaHistorySink.intoDirectory(args[1]))
        .mode(SyncMode.TRIGGERED)
        .build()) {
      r = p.runOnce();
    }
    long ms = (System.nanoTime() - t0) / 1_000_000;
    System.out.println("RESULT rows=" + r.rowsChanged() + " ms=" + ms + " vmhwm_kb=" + MemoryRun.vmHwmKb() + " heap_max_mb="
        + Runtime.getRuntime().maxMemory() / (1 << 20));
  }
}
