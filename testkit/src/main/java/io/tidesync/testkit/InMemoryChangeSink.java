package io.tidesync.testkit;

import io.tidesync.ApplyFailedException;
import io.tidesync.InvalidSourceDataException;
import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.ChangeSink;
import io.tidesync.spi.Position;
import io.tidesync.spi.SinkContext;
import io.tidesync.testkit.fixtures.internal.CanonicalRows;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A table mirror held in memory, keyed by primary key, that commits each batch with its position
 * atomically: the test double of a Postgres sink. Reduces each version per key as the real sink
 * does: a key exists after a version iff the version has an insert or post-image of it; a key the
 * version only deletes or leaves a pre-image of (an update that changed the key) is gone. Thread safe for reading while a pipeline applies.
 *
 * <p>{@link #failAt(Fault)} makes the next apply fail at one step, to test recovery.
 */
public final class InMemoryChangeSink implements ChangeSink {

  /** Where an injected failure happens. */
  public enum Fault {
    /** Before anything of the batch is applied. */
    BEFORE_APPLY,
    /** After the rows were applied, before the commit: the batch is rolled back. */
    BEFORE_COMMIT,
    /** After the commit: the batch and its position are durable, but the caller sees an error. */
    AFTER_COMMIT
  }

  private final List<String> key;
  private final Map<String, Committed> committed = new ConcurrentHashMap<>();
  private final AtomicReference<Fault> fault = new AtomicReference<>();
  private volatile int opened;

  private record Committed(Map<List<Object>, Map<String, Object>> rows, Position position) {}

  private InMemoryChangeSink(List<String> key) {
    this.key = List.copyOf(key);
  }

  /** A sink that keys rows by these columns. */
  public static InMemoryChangeSink keyedBy(String... key) {
    return new InMemoryChangeSink(List.of(key));
  }

  /** The next apply fails at this step (once). */
  public void failAt(Fault f) {
    fault.set(f);
  }

  /** How many appliers were opened (each run or retry opens one). */
  public int openCount() {
    return opened;
  }

  /** The rows committed for a pipeline, by key. */
  public Map<List<Object>, Map<String, Object>> rows(String pipeline) {
    Committed c = committed.get(pipeline);
    return c == null ? Map.of() : c.rows();
  }

  public Optional<Position> position(String pipeline) {
    Committed c = committed.get(pipeline);
    return c == null ? Optional.empty() : Optional.ofNullable(c.position());
  }

  @Override
  public List<String> validate() {
    return key.isEmpty() ? List.of("no primary key: pass key columns to keyedBy(..)") : List.of();
  }

  @Override
  public String describe() {
    return "in-memory sink";
  }

  @Override
  public ChangeApplier open(SinkContext context) {
    opened++;
    return new Applier(context.pipelineName());
  }

  private final class Applier implements ChangeApplier {
    private final String pipeline;
    private Map<List<Object>, Map<String, Object>> loading;

    Applier(String pipeline) {
      this.pipeline = pipeline;
    }

    @Override
    public Optional<Position> committedPosition() {
      return position(pipeline);
    }

    @Override
    public ApplyResult apply(ChangeBatch batch) {
      maybeFail(Fault.BEFORE_APPLY);
      Committed before = committed.get(pipeline);
      Map<List<Object>, Map<String, Object>> rows = new LinkedHashMap<>(before == null ? Map.of() : before.rows());
      long inserted = 0;
      long updated = 0;
      long deleted = 0;
      long skipped = 0;
      if (batch.type() == BatchType.SNAPSHOT) {
        if (loading == null) {
          loading = new LinkedHashMap<>();
        }
        for (int r = 0; r < batch.rowCount(); r++) {
          List<Object> k = key(batch, r);
          if (k.contains(null)) {
            skipped++;
          } else if (loading.put(k, image(batch, r)) != null) {
            throw new InvalidSourceDataException("in-memory sink: cannot load snapshot: duplicate key " + k);
          } else {
            inserted++;
          }
        }
        if (!batch.lastOfSnapshot()) {
          return new ApplyResult(inserted, 0, 0, skipped);
        }
        rows = loading;
        loading = null;
      } else {
        int r = 0;
        while (r < batch.rowCount()) {
          long version = batch.commitVersion(r);
          Map<List<Object>, Map<String, Object>> after = new HashMap<>();
          List<List<Object>> deletes = new ArrayList<>();
          for (; r < batch.rowCount() && batch.commitVersion(r) == version; r++) {
            List<Object> k = key(batch, r);
            ChangeKind kind = batch.kind(r);
            if (k.contains(null)) {
              skipped += kind == ChangeKind.UPDATE_PREIMAGE ? 0 : 1; // an update counts once
              continue;
            }
            if (kind.isAfterImage()) {
              Map<String, Object> img = image(batch, r);
              Map<String, Object> prev = after.put(k, img);
              if (prev != null && !CanonicalRows.canonical(prev).equals(CanonicalRows.canonical(img))) {
                throw new InvalidSourceDataException("in-memory sink: cannot apply version " + version
                    + ": two different post-images for key " + k);
              }
            } else {
              deletes.add(k); // a delete, or the pre-image of an update (gone unless the version re-adds the key)
            }
          }
          for (List<Object> k : deletes) {
            if (!after.containsKey(k) && rows.remove(k) != null) {
              deleted++;
            }
          }
          for (Map.Entry<List<Object>, Map<String, Object>> e : after.entrySet()) {
            if (rows.put(e.getKey(), e.getValue()) == null) {
              inserted++;
            } else {
              updated++;
            }
          }
        }
      }
      maybeFail(Fault.BEFORE_COMMIT);
      committed.put(pipeline, new Committed(Collections.unmodifiableMap(rows), batch.endPosition()));
      maybeFail(Fault.AFTER_COMMIT);
      return new ApplyResult(inserted, updated, deleted, skipped);
    }

    private List<Object> key(ChangeBatch batch, int r) {
      List<Object> k = new ArrayList<>(key.size());
      for (String c : key) {
        int i = batch.schema().indexOf(c);
        if (i < 0) {
          throw new ApplyFailedException("in-memory sink: cannot apply " + batch + ": key column '" + c
              + "' is not in the batch", null, null, false);
        }
        k.add(batch.value(i, r));
      }
      return k;
    }

    private Map<String, Object> image(ChangeBatch batch, int r) {
      Map<String, Object> m = new LinkedHashMap<>();
      for (int i = 0; i < batch.schema().size(); i++) {
        m.put(batch.schema().column(i).name(), batch.value(i, r));
      }
      return m;
    }

    private void maybeFail(Fault f) {
      if (fault.compareAndSet(f, null)) {
        throw new ApplyFailedException("in-memory sink: cannot apply: injected failure " + f, null, null, false);
      }
    }

    @Override
    public void close() {}
  }
}
