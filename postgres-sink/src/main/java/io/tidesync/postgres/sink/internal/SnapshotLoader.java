package io.tidesync.postgres.sink.internal;

import io.tidesync.ApplyFailedException;
import io.tidesync.InvalidSourceDataException;
import io.tidesync.SchemaMismatchException;
import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.TableSchema;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads SNAPSHOT batches into a load table beside the target ({@code <table>__ts_load}, no key,
 * committed per batch), and with the last batch adds the primary key and swaps the load table in
 * for the target, inside the caller's transaction. Remembers whether a snapshot is being loaded and
 * whether it broke; used by the applier's thread only.
 */
final class SnapshotLoader {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotLoader.class);
  static final String LOAD_SUFFIX = "__ts_load";

  private final Connection conn;
  private final TargetTable target;
  private final TargetTable load;
  private final String loadPkey;
  private final String pipeline;
  private final boolean stripNul;

  private boolean loading;
  private boolean broken;
  /** The schema of the snapshot being loaded, as of its first batch. */
  private TableSchema loadingSchema;

  SnapshotLoader(Connection conn, TargetTable target, String pipeline, boolean stripNul) {
    this.conn = conn;
    this.target = target;
    this.load = new TargetTable(target.schema, Identifiers.derived(target.table, LOAD_SUFFIX));
    this.loadPkey = Identifiers.derived(load.table, "_pkey");
    this.pipeline = pipeline;
    this.stripNul = stripNul;
  }

  /** True between a committed snapshot batch and the commit of the snapshot's last one. */
  boolean loading() {
    return loading;
  }

  /** Marks the snapshot being loaded as incomplete: its next batches fail until a new applier starts over. */
  void markBroken() {
    broken = true;
  }

  /** @throws ApplyFailedException when an earlier batch of this snapshot failed */
  void checkNotBroken(String subject) {
    if (broken) {
      throw new ApplyFailedException(subject + ": an earlier batch of this snapshot failed, so the load table is"
          + " incomplete. Restart the pipeline; the snapshot starts over", null, null, false);
    }
  }

  /**
   * Inside the caller's transaction: (first batch) recreates the load table; copies the rows whose
   * key has no null; passes {@link FaultPoint#AFTER_STAGE}; (last batch) adds the primary key and
   * swaps the load table in for the target. The caller writes the position and commits, then calls
   * {@link #committed}.
   *
   * @return rows loaded, and rows skipped for a null key
   * @throws InvalidSourceDataException for duplicate keys (the load table is dropped and committed)
   *     or a NUL character under {@code NulBytePolicy.FAIL}
   * @throws SchemaMismatchException when the schema changed between batches of the snapshot
   */
  ApplyResult load(ChangeBatch batch, TargetPlan p, String subject) throws SQLException {
    if (!loading) {
      target.lock(conn);
      load.createSchemaIfMissing(conn);
      try (Statement s = conn.createStatement()) {
        s.execute("DROP TABLE IF EXISTS " + load.qualified);
      }
      load.create(conn, p.newColumns(), List.of(), null);
      LOG.info("{}: loading a snapshot of {} into {}", pipeline, batch.table(), load.qualified);
    } else if (!batch.schema().equals(loadingSchema)) {
      throw new SchemaMismatchException(subject + ": the source schema changed during the snapshot, from "
          + loadingSchema + " to " + batch.schema() + ". Run the snapshot again");
    }
    int n = batch.rowCount();
    int[] rows = new int[n];
    int count = 0;
    long skipped = 0;
    for (int r = 0; r < n; r++) {
      if (ChangeReducer.keyHasNull(batch, p.keyIdx, r)) {
        skipped++;
      } else {
        rows[count++] = r;
      }
    }
    if (!stripNul) {
      NulBytes.reject(batch, p, rows, null, count, subject);
    }
    if (count > 0) {
      if (p.anyCast) {
        StagingTable.create(conn, p, false);
        PgBinaryCopyWriter.copy(conn, StagingTable.NAME, p.columnNames(), batch, p.isKey, stripNul, rows, count, null);
        try (Statement s = conn.createStatement()) {
          s.execute("INSERT INTO " + load.qualified + " (" + TargetTable.columnList(p.columnNames()) + ") SELECT "
              + p.stagedValues("s") + " FROM " + StagingTable.NAME + " AS s");
        }
      } else {
        PgBinaryCopyWriter.copy(conn, load.qualified, p.columnNames(), batch, p.isKey, stripNul, rows, count, null);
      }
    }
    FaultPoint.AFTER_STAGE.pass();
    if (batch.lastOfSnapshot()) {
      swap(p, subject);
    }
    return new ApplyResult(count, 0, 0, skipped);
  }

  private void swap(TargetPlan p, String subject) throws SQLException {
    try (Statement s = conn.createStatement()) {
      s.execute("SAVEPOINT pkey");
      try {
        s.execute("ALTER TABLE " + load.qualified + " ADD CONSTRAINT " + Identifiers.quote(loadPkey) + " PRIMARY KEY ("
            + TargetTable.columnList(p.keyNames) + ")");
      } catch (SQLException e) {
        if (!"23505".equals(e.getSQLState())) {
          throw e;
        }
        s.execute("ROLLBACK TO SAVEPOINT pkey");
        throw duplicateKey(p, subject);
      }
      target.lock(conn);
      s.execute("DROP TABLE IF EXISTS " + target.qualified);
      s.execute("ALTER TABLE " + load.qualified + " RENAME TO " + Identifiers.quote(target.table));
      s.execute("ALTER TABLE " + target.qualified + " RENAME CONSTRAINT " + Identifiers.quote(loadPkey) + " TO "
          + Identifiers.quote(Identifiers.derived(target.table, "_pkey")));
    }
  }

  /** After the caller committed {@code batch}. */
  void committed(ChangeBatch batch) {
    if (batch.lastOfSnapshot()) {
      loading = false;
    } else {
      loading = true;
      loadingSchema = batch.schema();
    }
  }

  /** Finds a duplicated key in the load table, drops the table (committed), and describes the problem. */
  private InvalidSourceDataException duplicateKey(TargetPlan p, String subject) throws SQLException {
    String keys = TargetTable.columnList(p.keyNames);
    StringBuilder dup = new StringBuilder();
    try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("SELECT " + keys + ", count(*) FROM "
        + load.qualified + " GROUP BY " + keys + " HAVING count(*) > 1 LIMIT 1")) {
      if (rs.next()) {
        dup.append('(');
        for (int i = 0; i < p.keyNames.size(); i++) {
          dup.append(i == 0 ? "" : ", ").append(p.keyNames.get(i)).append('=').append(rs.getString(i + 1));
        }
        dup.append(") appears ").append(rs.getLong(p.keyNames.size() + 1)).append(" times");
      }
    }
    try (Statement s = conn.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + load.qualified);
    }
    conn.commit();
    loading = false;
    return new InvalidSourceDataException(subject + ": the snapshot has duplicate primary key values " + p.keyNames
        + ": key " + dup + ". The target was left unchanged. Fix the source so that the key is unique, or configure"
        + " primaryKey(..) with the columns that are");
  }
}
