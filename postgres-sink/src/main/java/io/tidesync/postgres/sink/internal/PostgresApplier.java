package io.tidesync.postgres.sink.internal;

import io.tidesync.ApplyFailedException;
import io.tidesync.ConfigurationException;
import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.Position;
import io.tidesync.spi.SinkContext;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link ChangeApplier} of {@code PostgresSink}: one JDBC connection (autocommit off), used by
 * the pipeline's worker thread only. It runs each batch as one transaction and leaves the work to
 * its parts: {@link TargetPlanner} (column mapping, DDL, schema checks), {@link ChangeReducer}
 * (final state per key), a {@link ChangeWriter} per apply mode, {@link SnapshotLoader} (load
 * table and swap) and {@link SyncStateTable} (the position, in the same transaction).
 *
 * <p>CHANGES: reduce, check NULs, prepare the target, write, write the end position, commit.
 * SNAPSHOT: load the batch (the last one swaps), write the end position with the last batch,
 * commit.
 */
public final class PostgresApplier implements ChangeApplier {
  private static final Logger LOG = LoggerFactory.getLogger(PostgresApplier.class);

  /** TEST SUPPORT ONLY: forces the pre-MERGE path of COPY_MERGE (INSERT .. ON CONFLICT + DELETE .. USING). */
  public static void forceOnConflictForTests(boolean force) {
    CopyMergeWriter.forceOnConflictForTests = force;
  }

  private final SinkSettings settings;
  private final String pipeline;
  private final Connection conn;
  private final String display;
  private final String stateKey;
  private final SyncStateTable state;
  private final TargetPlanner planner;
  private final ChangeWriter copyMerge;
  private final ChangeWriter batchedUpsert;
  private final SnapshotLoader snapshots;
  private boolean closed;

  private PostgresApplier(SinkSettings settings, SinkContext context, Connection conn) throws SQLException {
    this.settings = settings;
    this.pipeline = context.pipelineName();
    this.conn = conn;
    conn.setAutoCommit(false);
    int serverMajor = conn.getMetaData().getDatabaseMajorVersion();
    String schema = settings.schema() != null ? settings.schema() : currentSchema(conn);
    TargetTable target = new TargetTable(schema, settings.table());
    this.display = Identifiers.display(schema, settings.table());
    this.stateKey = display;
    this.state = new SyncStateTable(settings.stateSchema());
    this.planner = new TargetPlanner(conn, settings, pipeline, target, display);
    this.copyMerge = new CopyMergeWriter(conn, serverMajor, target, settings.stripNul());
    this.batchedUpsert = new BatchedUpsertWriter(conn, target, settings.stripNul());
    this.snapshots = new SnapshotLoader(conn, target, pipeline, settings.stripNul());
    state.ensureExists(conn);
  }

  /**
   * Connects and prepares the sync_state table.
   *
   * @throws ApplyFailedException if the database cannot be reached or prepared (retryable for
   *     connection errors)
   * @throws ConfigurationException for a column type override PostgreSQL does not know
   */
  public static PostgresApplier open(SinkSettings settings, SinkContext context) {
    Connection c = null;
    try {
      c = settings.dataSource().getConnection();
      return new PostgresApplier(settings, context, c);
    } catch (SQLException e) {
      closeQuietly(c);
      throw SqlErrors.applyFailed(context.pipelineName() + ": cannot open postgres table " + settings.table(), e);
    } catch (RuntimeException e) {
      closeQuietly(c);
      throw e;
    }
  }

  private static String currentSchema(Connection c) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT current_schema()")) {
      rs.next();
      String v = rs.getString(1);
      return v == null ? "public" : v;
    }
  }

  @Override
  public Optional<Position> committedPosition() {
    checkOpen();
    try {
      Optional<Position> p = state.read(conn, pipeline, stateKey);
      conn.commit();
      return p;
    } catch (SQLException e) {
      rollbackQuietly();
      throw SqlErrors.applyFailed(pipeline + ": cannot read the committed position of " + display, e);
    }
  }

  @Override
  public ApplyResult apply(ChangeBatch batch) {
    checkOpen();
    boolean snapshot = batch.type() == BatchType.SNAPSHOT;
    String subject = pipeline + (snapshot ? ": cannot load a snapshot into " : ": cannot apply changes to ") + display;
    try {
      return snapshot ? applySnapshot(batch, subject) : applyChanges(batch, subject);
    } catch (SQLException e) {
      rollbackQuietly();
      if (snapshot) {
        snapshots.markBroken();
      }
      throw SqlErrors.applyFailed(subject, e);
    } catch (RuntimeException e) {
      rollbackQuietly();
      if (snapshot && !(e instanceof FaultPoint.InjectedFault f && f.point() == FaultPoint.AFTER_COMMIT)) {
        snapshots.markBroken();
      }
      throw e;
    }
  }

  private ApplyResult applyChanges(ChangeBatch batch, String subject) throws SQLException {
    if (snapshots.loading()) {
      throw new ApplyFailedException(subject + ": a CHANGES batch arrived before the snapshot being loaded was complete."
          + " Restart the pipeline; the snapshot starts over", null, null, false);
    }
    if (batch.isPartial()) {
      throw new ApplyFailedException(subject + ": the batch holds only part of a source transaction (" + batch
          + "), and this sink applies whole transactions per batch. Raise the pipeline's maxBatchRows/maxBatchBytes above the"
          + " largest source transaction", null, null, false);
    }
    TargetPlan p = planner.plan(batch);
    ChangeReducer.Reduced reduced = new ChangeReducer(p.keyIdx, p.tsIdx, subject).reduce(batch);
    if (!settings.stripNul()) {
      NulBytes.reject(batch, p, reduced.rows(), reduced.deletes(), reduced.count(), subject);
    }
    planner.prepareTarget(conn, p, subject);
    boolean copy = settings.copyMerge() != null ? settings.copyMerge() : reduced.count() >= settings.copyThreshold();
    ChangeWriter writer = copy ? copyMerge : batchedUpsert;
    ApplyResult r;
    if (reduced.count() == 0) {
      r = ApplyResult.NONE;
      FaultPoint.AFTER_STAGE.pass();
    } else {
      r = writer.write(batch, p, reduced);
    }
    state.write(conn, pipeline, stateKey, batch.endPosition());
    FaultPoint.AFTER_APPLY_BEFORE_COMMIT.pass();
    commit(subject);
    planner.verified(batch.schema());
    LOG.debug("{}: applied {} to {} by {}: {}", pipeline, batch, display, writer.mode(), r);
    FaultPoint.AFTER_COMMIT.pass();
    return new ApplyResult(r.inserted(), r.updated(), r.deleted(), reduced.skipped());
  }

  private ApplyResult applySnapshot(ChangeBatch batch, String subject) throws SQLException {
    snapshots.checkNotBroken(subject);
    TargetPlan p = planner.plan(batch);
    ApplyResult r = snapshots.load(batch, p, subject);
    if (batch.lastOfSnapshot()) {
      state.write(conn, pipeline, stateKey, batch.endPosition());
    }
    FaultPoint.AFTER_APPLY_BEFORE_COMMIT.pass();
    commit(subject);
    snapshots.committed(batch);
    if (batch.lastOfSnapshot()) {
      planner.verified(batch.schema());
      LOG.info("{}: snapshot of {} swapped in as {} at {}", pipeline, batch.table(), display, batch.endPosition());
    }
    FaultPoint.AFTER_COMMIT.pass();
    return r;
  }

  private void commit(String subject) {
    try {
      conn.commit();
    } catch (SQLException e) {
      throw SqlErrors.commitFailed(subject, e);
    }
  }

  private void rollbackQuietly() {
    try {
      if (!conn.isClosed()) {
        conn.rollback();
      }
    } catch (SQLException e) {
      LOG.debug("{}: rollback on {} failed: {}", pipeline, display, e.toString());
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException(pipeline + ": the applier of " + display + " is closed");
    }
  }

  private static void closeQuietly(Connection c) {
    if (c != null) {
      try {
        c.close();
      } catch (SQLException ignored) {
        // nothing to do
      }
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    rollbackQuietly();
    closeQuietly(conn);
  }

  /** For messages: {@code postgres table public.t}. */
  @Override
  public String toString() {
    return "postgres table " + display;
  }

  /** Visible for tests: the load table name a target table derives. */
  public static String loadTableName(String table) {
    return Identifiers.derived(table, SnapshotLoader.LOAD_SUFFIX);
  }
}
