package io.tidesync.delta.source;

import io.tidesync.SyncMode;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.Position;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SourceContext;
import io.tidesync.testkit.fixtures.DeltaFixture;
import io.tidesync.testkit.fixtures.DeltaFixtures;
import io.tidesync.testkit.fixtures.FixtureRows;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every Spark-written fixture table, every version: our snapshot equals Spark's state, and our
 * change rows equal Spark's {@code table_changes(t, v, v)} (deletion vectors, column mapping,
 * partitions, cdc files, commit timestamps). Change reads run twice: in one large batch and in
 * batches of 3 rows (versions split across batches).
 */
class SparkFixturesIT {
  @TempDir Path tmp;

  static Stream<String> fixtures() {
    return DeltaFixtures.names().stream();
  }

  @ParameterizedTest
  @MethodSource("fixtures")
  void snapshotsAndChangesMatchSpark(String name) {
    DeltaFixture f = DeltaFixtures.get(name);
    Path table = f.copyTo(tmp, f.latestVersion());
    DeltaChangeSource src = DeltaChangeSource.forPath(table.toString());
    try (BufferAllocator allocator = new RootAllocator(512L << 20)) {
      for (long v = 0; v <= f.latestVersion(); v++) {
        List<Map<String, Object>> state = new ArrayList<>();
        try (ChangeReader r = src.withSnapshotVersion(v).open(new ReadRequest(SyncMode.SNAPSHOT, Optional.empty()),
            new SourceContext("fixtures", allocator, 1000, Long.MAX_VALUE))) {
          drain(r, state, false);
        }
        FixtureRows.assertSameRows(name + " state at version " + v, f.expectedState(v), state);
      }
      for (int maxRows : new int[] {100_000, 3}) {
        compareChanges(f, src, allocator, maxRows);
      }
    }
  }

  private static void compareChanges(DeltaFixture f, DeltaChangeSource src, BufferAllocator allocator, int maxRows) {
    String name = f.name();
    // read each version from the position before it, as far as the change data feed allows
    long v = 1;
    while (v <= f.latestVersion()) {
      List<Map<String, Object>> expectedV;
      try {
        expectedV = f.expectedChanges(v, v);
      } catch (IllegalArgumentException cdfDisabled) {
        v++;
        continue;
      }
      Map<Long, List<Map<String, Object>>> byVersion = new TreeMap<>();
      long end = v;
      try (ChangeReader r = src.open(new ReadRequest(SyncMode.TRIGGERED,
          Optional.of(new Position(src.location(), Long.toString(v - 1)))),
          new SourceContext("fixtures", allocator, maxRows, Long.MAX_VALUE))) {
        List<Map<String, Object>> rows = new ArrayList<>();
        try {
          drain(r, rows, true);
        } catch (io.tidesync.ConfigurationException stoppedByCdf) {
          // a later version has CDF disabled: compare what came before it
        }
        for (Map<String, Object> row : rows) {
          byVersion.computeIfAbsent((Long) row.get("_commit_version"), k -> new ArrayList<>()).add(row);
        }
      }
      FixtureRows.assertSameRows(name + " changes of version " + v + " (batches of " + maxRows + ")", expectedV,
          padded(expectedV, byVersion.getOrDefault(v, List.of())));
      for (long w = v + 1; w <= f.latestVersion() && byVersion.containsKey(w); w++) {
        List<Map<String, Object>> expectedW = f.expectedChanges(w, w);
        FixtureRows.assertSameRows(name + " changes of version " + w + " (batches of " + maxRows + ")",
            expectedW, padded(expectedW, byVersion.get(w)));
        end = w;
      }
      v = end + 1;
    }
  }

  /**
   * Spark's table_changes reads every version with the table's latest schema; we emit each version
   * with its own schema. A column added later is absent from our earlier rows: it reads as null.
   */
  private static List<Map<String, Object>> padded(List<Map<String, Object>> expected, List<Map<String, Object>> actual) {
    java.util.Set<String> keys = new java.util.LinkedHashSet<>();
    expected.forEach(r -> keys.addAll(r.keySet()));
    for (Map<String, Object> r : actual) {
      for (String k : keys) {
        r.putIfAbsent(k, null);
      }
    }
    return actual;
  }

  private static void drain(ChangeReader r, List<Map<String, Object>> out, boolean changes) {
    while (true) {
      try (ChangeBatch b = r.poll()) {
        if (b == null) {
          return;
        }
        for (int row = 0; row < b.rowCount(); row++) {
          Map<String, Object> m = new LinkedHashMap<>();
          for (int c = 0; c < b.schema().size(); c++) {
            m.put(b.schema().column(c).name(), b.value(c, row));
          }
          if (changes) {
            m.put("_change_type", b.kind(row).cdfName());
            m.put("_commit_version", b.commitVersion(row));
            long micros = b.commitTimestampMicros(row);
            m.put("_commit_timestamp", Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L),
                Math.floorMod(micros, 1_000_000L) * 1000L));
          }
          out.add(m);
        }
      }
    }
  }
}
