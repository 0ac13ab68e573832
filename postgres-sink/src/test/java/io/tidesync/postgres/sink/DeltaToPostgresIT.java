package io.tidesync.postgres.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidesync.ConfigurationException;
import io.tidesync.SyncMode;
import io.tidesync.SyncPipeline;
import io.tidesync.SyncResult;
import io.tidesync.TidesyncException;
import io.tidesync.delta.source.DeltaChangeSource;
import io.tidesync.postgres.sink.internal.FaultPoint;
import io.tidesync.testkit.PostgresExtension;
import io.tidesync.testkit.TestPostgres;
import io.tidesync.testkit.fixtures.DeltaFixture;
import io.tidesync.testkit.fixtures.DeltaFixtures;
import io.tidesync.testkit.fixtures.FixtureRows;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * End to end, Delta (tables written by Apache Spark) to Postgres: after every version, the
 * Postgres table equals Spark's state of the Delta table at that version, row by row and value by
 * value; in both apply modes, in TRIGGERED and SNAPSHOT mode, and across injected failures.
 */
@ExtendWith(PostgresExtension.class)
class DeltaToPostgresIT {
  @TempDir
  Path lake;

  @AfterEach
  void disarm() {
    FaultPoint.disarm();
  }

  static Stream<String> fixtures() {
    return DeltaFixtures.names().stream();
  }

  private static String target(String fixture, String suffix) {
    return "public." + fixture + "_" + suffix;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void triggeredVersionByVersionMatchesSparkInBothApplyModes(String name, TestPostgres pg) {
    DeltaFixture fixture = DeltaFixtures.get(name);
    Path table = fixture.copyTo(lake, 0);
    DeltaChangeSource source = DeltaChangeSource.forPath(table.toString());
    try (SyncPipeline merge = pipeline(name + "-merge", source, sink(fixture, pg, target(name, "merge"))
            .applyMode(ApplyMode.COPY_MERGE), SyncMode.TRIGGERED);
        SyncPipeline upsert = pipeline(name + "-upsert", source, sink(fixture, pg, target(name, "upsert"))
            .applyMode(ApplyMode.BATCHED_UPSERT), SyncMode.TRIGGERED)) {
      for (long v = 0; v <= fixture.latestVersion(); v++) {
        fixture.advance(table, v);
        for (SyncPipeline p : List.of(merge, upsert)) {
          String target = p == merge ? target(name, "merge") : target(name, "upsert");
          try {
            SyncResult r = p.runOnce();
            assertThat(r.endPosition()).as("%s at version %d", p.name(), v).isPresent();
            assertThat(r.endPosition().get().offset()).as("%s at version %d", p.name(), v).isEqualTo(Long.toString(v));
          } catch (ConfigurationException e) {
            // a fixture whose Change Data Feed was switched off: the run stops with a clear error and nothing applied
            assertThat(name).as("only the fixture with CDF switched off fails").isEqualTo("cdf_disabled_midway");
            assertThat(e).hasMessageContaining("Change Data Feed is not enabled at version");
            return;
          }
          FixtureRows.assertSameRows(p.name() + " at version " + v, withKey(fixture, fixture.expectedState(v)),
              readTable(pg, target, fixture.expectedState(v)));
        }
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void snapshotsAtSeveralVersionsMatchSpark(String name, TestPostgres pg) {
    DeltaFixture fixture = DeltaFixtures.get(name);
    Path table = fixture.copyTo(lake, fixture.latestVersion());
    long latest = fixture.latestVersion();
    for (long v : new long[] {latest / 2, 0, latest}) {
      try (SyncPipeline p = pipeline(name + "-snap", DeltaChangeSource.forPath(table.toString()).withSnapshotVersion(v),
          sink(fixture, pg, target(name, "snap")), SyncMode.SNAPSHOT)) {
        SyncResult r = p.runOnce();
        assertThat(r.snapshot()).isTrue();
        assertThat(r.endPosition().get().offset()).isEqualTo(Long.toString(v));
        FixtureRows.assertSameRows(name + " snapshot at version " + v, withKey(fixture, fixture.expectedState(v)),
            readTable(pg, target(name, "snap"), fixture.expectedState(v)));
      }
    }
  }

  /**
   * Small batches (several per version, so positions inside a version are used) and a failure at a
   * random step of a random batch in each of many runs: after a restart the table always equals
   * Spark's, with no change lost or applied twice. The seed replays a failing case.
   */
  @Test
  void injectedFailuresAtEveryStepNeverLoseOrRepeatAChange(TestPostgres pg) {
    long seed = Long.getLong("tidesync.seed", new Random().nextLong());
    Random rnd = new Random(seed);
    DeltaFixture fixture = DeltaFixtures.get("basic_history_dv");
    Path table = fixture.copyTo(lake, 0);
    String target = target("faults", "t");
    int failures = 0;
    try (SyncPipeline p = SyncPipeline.builder("faults").source(DeltaChangeSource.forPath(table.toString()))
        .sink(sink(fixture, pg, target).applyMode(rnd.nextBoolean() ? ApplyMode.COPY_MERGE : ApplyMode.BATCHED_UPSERT))
        .maxBatchRows(1 + rnd.nextInt(4)).retries(0, Duration.ZERO, Duration.ZERO).build()) {
      for (long v = 0; v <= fixture.latestVersion(); v++) {
        fixture.advance(table, v);
        FaultPoint[] points = FaultPoint.values();
        FaultPoint point = points[rnd.nextInt(points.length)];
        FaultPoint.arm(point);
        try {
          p.runOnce();
        } catch (TidesyncException e) {
          failures++;
          assertThat(e).as("seed %d", seed).hasRootCauseInstanceOf(FaultPoint.InjectedFault.class);
        }
        FaultPoint.disarm();
        p.runOnce();
        FixtureRows.assertSameRows("seed " + seed + " (replay with -Dtidesync.seed=" + seed + "), version " + v
            + " after a failure at " + point, withKey(fixture, fixture.expectedState(v)),
            readTable(pg, target, fixture.expectedState(v)));
      }
    }
    assertThat(failures).as("seed %d: failures were injected", seed).isGreaterThan(0);
  }

  /**
   * Key-changing UPDATE and MERGE statements (pre-image under the old key, post-image under the new
   * one; chains, swaps, a key moved away and reused in one commit) with batches of a few rows, so
   * that a version's changes are split across batches: after every version the Postgres table
   * equals Spark's, in both apply modes.
   */
  @ParameterizedTest(name = "{0}, maxBatchRows {1}")
  @CsvSource({"COPY_MERGE, 1", "BATCHED_UPSERT, 1", "COPY_MERGE, 3", "BATCHED_UPSERT, 3"})
  void keyChangesSplitAcrossBatchesMatchSpark(ApplyMode mode, int maxBatchRows, TestPostgres pg) {
    DeltaFixture fixture = DeltaFixtures.get("key_changes");
    Path table = fixture.copyTo(lake, 0);
    String target = target("key_changes", mode.name().toLowerCase() + "_" + maxBatchRows);
    try (SyncPipeline p = SyncPipeline.builder("key-changes").source(DeltaChangeSource.forPath(table.toString()))
        .sink(sink(fixture, pg, target).applyMode(mode)).maxBatchRows(maxBatchRows)
        .retries(0, Duration.ZERO, Duration.ZERO).build()) {
      for (long v = 0; v <= fixture.latestVersion(); v++) {
        fixture.advance(table, v);
        SyncResult r = p.runOnce();
        assertThat(r.endPosition().get().offset()).as("version %d", v).isEqualTo(Long.toString(v));
        FixtureRows.assertSameRows(mode + ", maxBatchRows " + maxBatchRows + ", version " + v,
            fixture.expectedState(v), readTable(pg, target, fixture.expectedState(v)));
      }
    }
  }

  @Test
  void changeDataFeedSwitchedOffAppliesTheVersionsBeforeItThenStopsClearly(TestPostgres pg) {
    DeltaFixture fixture = DeltaFixtures.get("cdf_disabled_midway");
    Path table = fixture.copyTo(lake, 0);
    String target = target("cdf_off", "t");
    try (SyncPipeline p = pipeline("cdf-off", DeltaChangeSource.forPath(table.toString()), sink(fixture, pg, target),
        SyncMode.TRIGGERED)) {
      p.runOnce();
      fixture.advance(table, fixture.latestVersion());
      assertThatThrownBy(p::runOnce).isInstanceOf(ConfigurationException.class)
          .hasMessage(table.toUri().toString().replaceAll("/$", "").replace("file:///", "file:/")
              + ": cannot read changes of versions 3.." + fixture.latestVersion()
              + ": Change Data Feed is not enabled at version 3. Enable delta.enableChangeDataFeed and re-snapshot "
              + "(or opt in with onPositionLost(RESNAPSHOT))");
      FixtureRows.assertSameRows("versions 1 and 2 applied before the stop", withKey(fixture, fixture.expectedState(2)),
          readTable(pg, target, fixture.expectedState(2)));
    }
  }

  @Test
  void aCleanedUpLogStopsWithAClearErrorAndNothingApplied(TestPostgres pg) throws Exception {
    DeltaFixture fixture = DeltaFixtures.get("basic_history");
    Path table = fixture.copyTo(lake, 2);
    String target = target("vacuumed", "t");
    try (SyncPipeline p = pipeline("vacuumed", DeltaChangeSource.forPath(table.toString()), sink(fixture, pg, target),
        SyncMode.TRIGGERED)) {
      p.runOnce();
      fixture.advance(table, fixture.latestVersion());
      // log cleanup: the commits after the synced version are gone (a checkpoint at 5 and 10 remains)
      for (long v = 0; v <= 7; v++) {
        java.nio.file.Files.deleteIfExists(table.resolve("_delta_log").resolve(String.format("%020d.json", v)));
      }
      assertThatThrownBy(p::runOnce).isInstanceOf(io.tidesync.SourcePositionLostException.class)
          .hasMessageContaining("version 3");
      FixtureRows.assertSameRows("after the failed run", withKey(fixture, fixture.expectedState(2)),
          readTable(pg, target, fixture.expectedState(2)));
    }
  }

  private static PostgresSink sink(DeltaFixture fixture, TestPostgres pg, String target) {
    return PostgresSink.forTable(target).dataSource(pg.dataSource()).primaryKey(fixture.primaryKey().toArray(new String[0]));
  }

  private static SyncPipeline pipeline(String name, DeltaChangeSource source, PostgresSink sink, SyncMode mode) {
    return SyncPipeline.builder(name).source(source).sink(sink).mode(mode).retries(0, Duration.ZERO, Duration.ZERO).build();
  }

  /** Spark's rows minus those with a null key: the sink skips and counts them. */
  private static List<Map<String, Object>> withKey(DeltaFixture fixture, List<Map<String, Object>> rows) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (Map<String, Object> r : rows) {
      if (fixture.primaryKey().stream().allMatch(k -> r.get(k) != null)) {
        out.add(r);
      }
    }
    return out;
  }

  /**
   * Reads a Postgres table into canonical values, reading each column as the Java type Spark's
   * rows have for it (smallint holds both Delta byte and short).
   */
  static List<Map<String, Object>> readTable(TestPostgres pg, String table, List<Map<String, Object>> like) {
    Map<String, Class<?>> types = new HashMap<>();
    for (Map<String, Object> r : like) {
      r.forEach((k, v) -> {
        if (v != null) {
          types.putIfAbsent(k, v.getClass());
        }
      });
    }
    String[] parts = table.split("\\.", 2);
    List<Map<String, Object>> out = new ArrayList<>();
    try (Connection c = pg.connect(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT * FROM " + parts[0] + ".\"" + parts[1].replace("\"", "\"\"") + "\"")) {
      ResultSetMetaData md = rs.getMetaData();
      while (rs.next()) {
        Map<String, Object> row = new LinkedHashMap<>();
        for (int i = 1; i <= md.getColumnCount(); i++) {
          String col = md.getColumnName(i);
          row.put(col, read(rs, i, types.get(col)));
        }
        out.add(row);
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot read " + table + ": " + e.getMessage(), e);
    }
    return out;
  }

  private static Object read(ResultSet rs, int i, Class<?> type) throws SQLException {
    if (rs.getObject(i) == null || type == null) {
      return null;
    }
    if (type == Byte.class) {
      return (byte) rs.getShort(i);
    } else if (type == Short.class) {
      return rs.getShort(i);
    } else if (type == Integer.class) {
      return rs.getInt(i);
    } else if (type == Long.class) {
      return rs.getLong(i);
    } else if (type == Float.class) {
      return rs.getFloat(i);
    } else if (type == Double.class) {
      return rs.getDouble(i);
    } else if (type == Boolean.class) {
      return rs.getBoolean(i);
    } else if (type == java.math.BigDecimal.class) {
      return rs.getBigDecimal(i);
    } else if (type == byte[].class) {
      return rs.getBytes(i);
    } else if (type == LocalDate.class) {
      return rs.getObject(i, LocalDate.class);
    } else if (type == Instant.class) {
      return rs.getObject(i, OffsetDateTime.class).toInstant();
    } else if (type == LocalDateTime.class) {
      return rs.getObject(i, LocalDateTime.class);
    }
    return rs.getString(i);
  }
}
