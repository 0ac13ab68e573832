package io.tidesync.postgres.sink;

import static io.tidesync.postgres.sink.SinkTestSupport.*;

import io.tidesync.postgres.sink.internal.PostgresApplier;
import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.LogicalType.Kind;
import io.tidesync.spi.Position;
import io.tidesync.spi.TableSchema;
import io.tidesync.testkit.PostgresExtension;
import io.tidesync.testkit.TestPostgres;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Seeded property test: random change streams (inserts, updates, deletes, delete+insert in either
 * order, identical duplicates, deletes of absent keys, null keys, repeated keys within and across
 * versions, random batch splits) applied in every mode equal a plain in-memory model, row for row
 * and count for count. Replay a failure with {@code -Dtidesync.seed=<seed>}.
 */
@ExtendWith(PostgresExtension.class)
class RandomizedApplyIT {
  static final TableSchema SCHEMA = TableSchema.of(List.of(Column.of("k1", LogicalType.of(Kind.INT32)),
      Column.of("k2", LogicalType.of(Kind.STRING)), Column.of("v", LogicalType.of(Kind.INT64)),
      Column.of("s", LogicalType.of(Kind.STRING)), Column.of("d", LogicalType.decimal(10, 2))));
  static final String[] K2 = {"a", "B", " c", "ü"};

  enum Variant { COPY_MERGE, BATCHED_UPSERT, COPY_ON_CONFLICT, AUTO }

  @Test
  void randomChangeStreamsMatchTheModel(TestPostgres pg) {
    long seed = Long.getLong("tidesync.seed", new Random().nextLong());
    Random random = new Random(seed);
    int cases = 200;
    try (BufferAllocator alloc = new RootAllocator()) {
      for (Variant variant : Variant.values()) {
        pg.execute("CREATE TABLE rnd_" + variant.name().toLowerCase() + " (k1 integer, k2 text, v bigint, s text,"
            + " d numeric(10,2), PRIMARY KEY (k1, k2))");
      }
      for (int c = 0; c < cases; c++) {
        Variant variant = Variant.values()[c % Variant.values().length];
        long caseSeed = random.nextLong();
        try {
          runCase(pg, alloc, variant, c, new Random(caseSeed));
        } catch (AssertionError | RuntimeException e) {
          throw new AssertionError("case " + c + " (" + variant + ") failed with seed " + seed
              + "; replay with -Dtidesync.seed=" + seed + ": " + e.getMessage(), e);
        } finally {
          PostgresApplier.forceOnConflictForTests(false);
        }
      }
    }
  }

  private static void runCase(TestPostgres pg, BufferAllocator alloc, Variant variant, int c, Random rnd) {
    String table = "rnd_" + variant.name().toLowerCase();
    pg.execute("TRUNCATE " + table);
    PostgresSink sink = PostgresSink.forTable(table).dataSource(pg.dataSource()).primaryKey("k1", "k2");
    sink = switch (variant) {
      case COPY_MERGE, COPY_ON_CONFLICT -> sink.applyMode(ApplyMode.COPY_MERGE);
      case BATCHED_UPSERT -> sink.applyMode(ApplyMode.BATCHED_UPSERT);
      case AUTO -> sink.copyThreshold(1 + rnd.nextInt(8));
    };
    PostgresApplier.forceOnConflictForTests(variant == Variant.COPY_ON_CONFLICT);
    Map<List<Object>, List<Object>> model = new HashMap<>();
    int versions = 1 + rnd.nextInt(12);
    List<List<R>> perVersion = new ArrayList<>();
    for (int v = 1; v <= versions; v++) {
      perVersion.add(version(rnd, v, model));
    }
    // Reapply the model from scratch per batch to know the expected counts.
    Map<List<Object>, List<Object>> state = new HashMap<>();
    try (ChangeApplier a = sink.open(context("rnd-" + c))) {
      int v = 0;
      while (v < versions) {
        int take = rnd.nextInt(4); // 0 = an empty batch at the current position
        List<R> rows = new ArrayList<>();
        int end = Math.min(versions, v + take);
        for (int i = v; i < end; i++) {
          rows.addAll(perVersion.get(i));
        }
        long endPosition = Math.max(end, 1);
        ApplyResult expected = expectedResult(rows, state);
        ApplyResult actual = apply(a, changes(alloc, SCHEMA, endPosition, rows));
        if (!actual.equals(expected)) {
          throw new AssertionError("batch ending at version " + endPosition + ": expected " + expected + " but got " + actual
              + " for rows " + rows);
        }
        v = end;
      }
      if (!a.committedPosition().equals(java.util.Optional.of(Position.of(SOURCE, Math.max(versions, 1))))) {
        throw new AssertionError("position " + a.committedPosition() + " after " + versions + " versions");
      }
    }
    Map<List<Object>, List<Object>> actual = new HashMap<>();
    for (List<Object> row : query(pg, SCHEMA, "SELECT * FROM " + table)) {
      actual.put(List.of(row.get(0), row.get(1)), row);
    }
    if (!actual.equals(model)) {
      throw new AssertionError("table differs from the model:\n expected " + new java.util.TreeMap<>(stringKeys(model))
          + "\n actual   " + new java.util.TreeMap<>(stringKeys(actual)));
    }
  }

  private static Map<String, List<Object>> stringKeys(Map<List<Object>, List<Object>> m) {
    Map<String, List<Object>> out = new HashMap<>();
    m.forEach((k, v) -> out.put(k.toString(), v));
    return out;
  }

  /** The rows of one version, and the model after it. */
  private static List<R> version(Random rnd, long v, Map<List<Object>, List<Object>> model) {
    List<R> rows = new ArrayList<>();
    Set<List<Object>> touched = new HashSet<>();
    int ops = 1 + rnd.nextInt(6);
    for (int o = 0; o < ops; o++) {
      if (rnd.nextInt(15) == 0) {
        rows.add(ins(v, null, K2[rnd.nextInt(K2.length)], 1L, "null key", null));
        continue;
      }
      int k1 = rnd.nextInt(4);
      String k2 = K2[rnd.nextInt(K2.length)];
      List<Object> key = List.of(k1, k2);
      if (!touched.add(key)) {
        continue;
      }
      List<Object> old = model.get(key);
      List<Object> fresh = Arrays.asList(k1, k2, rnd.nextInt(4) == 0 ? null : rnd.nextLong(),
          rnd.nextInt(5) == 0 ? null : "s" + rnd.nextInt(1000) + (rnd.nextBoolean() ? " ✓" : ""),
          rnd.nextInt(4) == 0 ? null : BigDecimal.valueOf(rnd.nextInt(2_000_000) - 1_000_000, 2));
      int choice = rnd.nextInt(6);
      if (old == null) {
        if (choice == 0) {
          rows.add(new R(io.tidesync.spi.ChangeKind.DELETE, v, Arrays.asList(k1, k2, null, null, null))); // absent key
          continue;
        }
        rows.add(ins(v, fresh.toArray()));
        if (choice == 1) {
          rows.add(ins(v, fresh.toArray())); // identical duplicate
        }
        model.put(key, fresh);
      } else if (choice <= 1) {
        rows.add(del(v, old.toArray()));
        model.remove(key);
      } else if (choice == 2) { // delete + insert, deletes first
        rows.add(del(v, old.toArray()));
        rows.add(ins(v, fresh.toArray()));
        model.put(key, fresh);
      } else if (choice == 3) { // insert before delete: the post-image still wins
        rows.add(ins(v, fresh.toArray()));
        rows.add(del(v, old.toArray()));
        model.put(key, fresh);
      } else {
        rows.add(pre(v, old.toArray()));
        rows.add(post(v, fresh.toArray()));
        if (choice == 5) {
          rows.add(post(v, fresh.toArray()));
        }
        model.put(key, fresh);
      }
    }
    if (rnd.nextBoolean()) {
      // Rows of different keys may come in any order within a version; keep each key's rows in order.
      Collections.rotate(rows, rnd.nextInt(rows.size() + 1));
    }
    return rows;
  }

  /** What applying {@code rows} should do, given the target {@code state}, which it then updates. */
  private static ApplyResult expectedResult(List<R> rows, Map<List<Object>, List<Object>> state) {
    Map<List<Object>, List<Object>> finals = new HashMap<>();
    Map<List<Object>, Long> versionOf = new HashMap<>();
    Map<List<Object>, Boolean> hasPost = new HashMap<>();
    long skipped = 0;
    for (R r : rows) {
      if (r.kind() == io.tidesync.spi.ChangeKind.UPDATE_PREIMAGE) {
        continue;
      }
      if (r.values().get(0) == null) {
        skipped++;
        continue;
      }
      List<Object> key = List.of(r.values().get(0), r.values().get(1));
      boolean post = r.kind().isAfterImage();
      if (!Long.valueOf(r.version()).equals(versionOf.get(key))) {
        versionOf.put(key, r.version());
        hasPost.put(key, false);
        finals.put(key, null);
      }
      if (post) {
        finals.put(key, r.values());
        hasPost.put(key, true);
      } else if (!hasPost.get(key)) {
        finals.put(key, null);
      }
    }
    long ins = 0;
    long upd = 0;
    long del = 0;
    for (Map.Entry<List<Object>, List<Object>> e : finals.entrySet()) {
      boolean existed = state.containsKey(e.getKey());
      if (e.getValue() == null) {
        del += existed ? 1 : 0;
        state.remove(e.getKey());
      } else {
        if (existed) {
          upd++;
        } else {
          ins++;
        }
        state.put(e.getKey(), e.getValue());
      }
    }
    return new ApplyResult(ins, upd, del, skipped);
  }
}
