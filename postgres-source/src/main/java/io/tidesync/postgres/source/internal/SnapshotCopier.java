package io.tidesync.postgres.source.internal;

import io.tidesync.ConfigurationException;
import io.tidesync.TidesyncException;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.Position;
import io.tidesync.spi.SourceContext;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * Copies the tables, one after the other, under a slot's exported snapshot: a REPEATABLE READ
 * transaction with {@code SET TRANSACTION SNAPSHOT}, each table read through a cursor in batches.
 * Every column is read as text ({@code col::text}), so snapshot values go through the same
 * {@link TextValues} parser as streamed ones.
 */
final class SnapshotCopier implements AutoCloseable {
  private final String pipeline;
  private final SourceContext context;
  private final Connection connection;
  private final List<TableInfo> tables;
  private final long consistentPoint;
  private final Position position;
  private int tableIndex = -1;
  private Statement statement;
  private ResultSet rows;
  private boolean done;

  SnapshotCopier(String pipeline, SourceContext context, Connection connection, String snapshotName,
      List<TableInfo> tables, long consistentPoint, Position position) throws SQLException {
    this.pipeline = pipeline;
    this.context = context;
    this.connection = connection;
    this.tables = tables;
    this.consistentPoint = consistentPoint;
    this.position = position;
    connection.setAutoCommit(false);
    try (Statement s = connection.createStatement()) {
      s.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      s.execute("SET TRANSACTION SNAPSHOT '" + snapshotName.replace("'", "''") + "'");
      s.execute("SET LOCAL bytea_output = 'hex'");
      s.execute("SET LOCAL DateStyle = 'ISO, YMD'");
      s.execute("SET LOCAL extra_float_digits = 3");
    }
  }

  /** The next snapshot batch, or null when every table was copied. */
  ChangeBatch next() {
    if (done) {
      return null;
    }
    try {
      if (rows == null) {
        openTable(++tableIndex);
      }
      TableInfo t = tables.get(tableIndex);
      ChangeBatchBuilder b = new ChangeBatchBuilder(context.allocator(), t.name().tableId(), t.schema());
      try {
        boolean tableDone = false;
        while (!context.isFull(b)) {
          if (!rows.next()) {
            tableDone = true;
            break;
          }
          b.startRow(ChangeKind.INSERT, consistentPoint, 0L, -1L);
          for (int c = 0; c < t.types().size(); c++) {
            String v = rows.getString(c + 1);
            if (v != null) {
              RowDecoding.set(b, c, t.types().get(c), v.getBytes(StandardCharsets.UTF_8), v, t, pipeline, consistentPoint);
            }
          }
        }
        boolean last = false;
        if (tableDone) {
          rows.close();
          statement.close();
          rows = null;
          if (tableIndex == tables.size() - 1) {
            done = true;
            last = true;
            connection.commit();
          }
        }
        return b.build(BatchType.SNAPSHOT, last, position);
      } catch (RuntimeException | SQLException e) {
        b.close();
        throw e;
      }
    } catch (SQLException e) {
      TableInfo t = tables.get(Math.max(tableIndex, 0));
      if ("42501".equals(e.getSQLState())) {
        throw new ConfigurationException(pipeline + ": cannot read table " + t.name() + " for the initial snapshot: "
            + e.getMessage() + ". Run: GRANT SELECT ON " + t.name().sql() + " TO <the source's user>", e);
      }
      throw new TidesyncException(pipeline + ": cannot read table " + t.name() + " for the initial snapshot: "
          + e.getMessage() + " (SQLSTATE " + e.getSQLState() + ")", e, true);
    }
  }

  private void openTable(int index) throws SQLException {
    TableInfo t = tables.get(index);
    StringBuilder sql = new StringBuilder("SELECT ");
    for (int c = 0; c < t.schema().size(); c++) {
      String type = t.types().get(c).sqlName();
      // ::text gives the type's output text, except for character(n), whose cast to text drops the padding
      boolean padded = type.equals("character") || type.startsWith("character(") || type.equals("bpchar");
      sql.append(c == 0 ? "" : ", ").append(QualifiedName.quote(t.schema().column(c).name())).append(padded ? "" : "::text");
    }
    sql.append(" FROM ").append(t.name().sql());
    statement = connection.createStatement();
    statement.setFetchSize(Math.max(1, Math.min(context.maxBatchRows(), 10_000)));
    rows = statement.executeQuery(sql.toString());
  }

  @Override
  public void close() {
    try {
      if (rows != null) {
        rows.close();
      }
      if (statement != null) {
        statement.close();
      }
      if (!connection.isClosed() && !connection.getAutoCommit()) {
        connection.rollback();
      }
    } catch (SQLException e) {
      // closing anyway
    } finally {
      try {
        connection.close();
      } catch (SQLException e) {
        // nothing to do
      }
    }
  }
}
