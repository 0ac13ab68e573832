package io.tidesync.testkit;

import io.tidesync.ConfigurationException;
import io.tidesync.TidesyncException;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.ChangeSource;
import io.tidesync.spi.Position;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SourceContext;
import io.tidesync.spi.TableId;
import io.tidesync.spi.TableSchema;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A versioned change log held in memory: the test double of a Delta table's Change Data Feed. Each
 * {@link #commit} adds a version (starting at 0); readers produce snapshots of the state at the
 * latest version and change batches after a position, as a real source does. Thread safe: a test
 * may commit while a continuous pipeline reads.
 *
 * <p>Batches hold whole versions (a version larger than the batch row limit makes a larger
 * batch). Positions are {@code Position(source, "<version>")}.
 */
public final class InMemoryChangeSource implements ChangeSource {
  private final String id;
  private final TableId table;
  private final TableSchema schema;
  private final List<List<Change>> versions = new CopyOnWriteArrayList<>();
  private final List<Position> acknowledged = new CopyOnWriteArrayList<>();
  private final AtomicInteger pollFailures = new AtomicInteger();
  private volatile boolean retryableFailures;

  private InMemoryChangeSource(String id, TableId table, TableSchema schema) {
    this.id = id;
    this.table = table;
    this.schema = schema;
  }

  /** A source of one table; {@code schema} needs a primary key (snapshots reduce by it). */
  public static InMemoryChangeSource of(String id, TableId table, TableSchema schema) {
    if (schema.primaryKey().isEmpty()) {
      throw new IllegalArgumentException("InMemoryChangeSource needs a schema with a primary key");
    }
    return new InMemoryChangeSource(id, table, schema);
  }

  public TableSchema schema() {
    return schema;
  }

  /** Adds a version with these changes; returns its number. */
  public synchronized long commit(List<Change> changes) {
    for (Change c : changes) {
      for (String name : c.row().keySet()) {
        if (schema.indexOf(name) < 0) {
          throw new IllegalArgumentException("column '" + name + "' is not in " + schema);
        }
      }
    }
    versions.add(List.copyOf(changes));
    return versions.size() - 1L;
  }

  public long commit(Change... changes) {
    return commit(List.of(changes));
  }

  /** The newest version, or -1 if none. */
  public long latestVersion() {
    return versions.size() - 1L;
  }

  /** The state at {@code version}: last after-image per key, deletes applied. */
  public synchronized Map<List<Object>, Map<String, Object>> stateAt(long version) {
    Map<List<Object>, Map<String, Object>> state = new LinkedHashMap<>();
    for (int v = 0; v <= version; v++) {
      Map<List<Object>, Map<String, Object>> after = new LinkedHashMap<>();
      List<List<Object>> deleted = new ArrayList<>();
      for (Change c : versions.get(v)) {
        List<Object> key = keyOf(c.row());
        if (key.contains(null)) {
          continue;
        }
        if (c.kind().isAfterImage()) {
          after.put(key, c.row());
        } else if (c.kind() == ChangeKind.DELETE) {
          deleted.add(key);
        }
      }
      deleted.forEach(state::remove);
      state.putAll(after);
    }
    return state;
  }

  private List<Object> keyOf(Map<String, Object> row) {
    List<Object> key = new ArrayList<>();
    for (String k : schema.primaryKey()) {
      key.add(row.get(k));
    }
    return Collections.unmodifiableList(key);
  }

  /** Every position a reader was told is durable, in order. */
  public List<Position> acknowledged() {
    return List.copyOf(acknowledged);
  }

  /** Makes the next {@code n} polls throw (retryable or not), as a broken connection would. */
  public void failNextPolls(int n, boolean retryable) {
    this.retryableFailures = retryable;
    pollFailures.set(n);
  }

  @Override
  public List<String> validate() {
    return List.of();
  }

  @Override
  public String describe() {
    return "in-memory source " + id;
  }

  @Override
  public ChangeReader open(ReadRequest request, SourceContext context) {
    long next;
    boolean snapshot = request.needsSnapshot();
    if (!snapshot) {
      Position p = request.start().get();
      if (!p.source().equals(id)) {
        throw new ConfigurationException("in-memory source " + id + ": cannot resume from " + p
            + ": the position belongs to another source. Use a new pipeline name");
      }
      next = p.offsetAsLong() + 1;
    } else {
      next = -1;
    }
    return new Reader(context, snapshot, next);
  }

  private final class Reader implements ChangeReader {
    private final SourceContext context;
    private boolean snapshotPending;
    private long next;

    Reader(SourceContext context, boolean snapshot, long next) {
      this.context = context;
      this.snapshotPending = snapshot;
      this.next = next;
    }

    @Override
    public ChangeBatch poll() {
      if (pollFailures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        throw new TidesyncException(describe() + ": cannot read: injected failure", null, retryableFailures);
      }
      if (snapshotPending) {
        return snapshot();
      }
      long latest = latestVersion();
      if (next > latest) {
        return null;
      }
      ChangeBatchBuilder b = new ChangeBatchBuilder(context.allocator(), table, schema);
      try {
        long v = next;
        while (v <= latest && (b.rowCount() == 0 || !context.isFull(b))) {
          for (Change c : versions.get((int) v)) {
            b.startRow(c.kind(), v, v * 1_000_000L);
            fill(b, c.row());
          }
          v++;
        }
        next = v;
        return b.build(BatchType.CHANGES, false, Position.of(id, v - 1));
      } catch (RuntimeException e) {
        b.close();
        throw e;
      }
    }

    private ChangeBatch snapshot() {
      long latest = latestVersion();
      ChangeBatchBuilder b = new ChangeBatchBuilder(context.allocator(), table, schema);
      try {
        for (Map<String, Object> row : stateAt(latest).values()) {
          b.startRow(ChangeKind.INSERT, Math.max(latest, 0), Math.max(latest, 0) * 1_000_000L);
          fill(b, row);
        }
        snapshotPending = false;
        next = latest + 1;
        return b.build(BatchType.SNAPSHOT, true, Position.of(id, latest));
      } catch (RuntimeException e) {
        b.close();
        throw e;
      }
    }

    private void fill(ChangeBatchBuilder b, Map<String, Object> row) {
      for (Map.Entry<String, Object> e : row.entrySet()) {
        b.set(schema.indexOf(e.getKey()), e.getValue());
      }
    }

    @Override
    public void acknowledge(Position position) {
      acknowledged.add(position);
    }

    @Override
    public void close() {}
  }
}
