package io.tidesync.postgres.sink.internal;

import io.tidesync.ApplyFailedException;
import io.tidesync.CommitStateUnknownException;
import java.sql.SQLException;

/** Turns {@link SQLException}s into Tidesync exceptions, keeping the SQLSTATE and the cause. */
public final class SqlErrors {
  private SqlErrors() {}

  /** Connection errors (class 08), serialization failures (40001) and deadlocks (40P01). */
  public static boolean isRetryable(String sqlState) {
    return sqlState != null && (sqlState.startsWith("08") || sqlState.equals("40001") || sqlState.equals("40P01")
        || sqlState.equals("57P01") /* admin shutdown */ || sqlState.equals("57P03") /* cannot connect now */);
  }

  /** {@code subject: reason [SQLSTATE x]. remedy}, as an {@link ApplyFailedException}. */
  public static ApplyFailedException applyFailed(String subject, SQLException e) {
    SQLException cause = e;
    if (e instanceof java.sql.BatchUpdateException && e.getNextException() != null) {
      e = e.getNextException(); // the server's error, without the statement and its values
    }
    String state = e.getSQLState();
    String remedy = isRetryable(state)
        ? "The batch was rolled back; retrying may succeed"
        : "The batch was rolled back and the position did not move; fix the cause and run the pipeline again";
    return new ApplyFailedException(subject + ": " + firstLine(e.getMessage()) + " [SQLSTATE " + state + "]. " + remedy,
        state, cause, isRetryable(state));
  }

  /**
   * An error while committing: a server answer (such as a deferred constraint failure) means the
   * transaction rolled back; a broken connection, or a FATAL that ends the session (class 57P:
   * administrator or crash shutdown, terminated backend), means nobody knows.
   */
  public static RuntimeException commitFailed(String subject, SQLException e) {
    String state = e.getSQLState();
    if (state == null || state.startsWith("08") || state.startsWith("57P")) {
      return new CommitStateUnknownException(subject + ": the connection failed during COMMIT (" + firstLine(e.getMessage())
          + "), so the batch may or may not be durable. Restart the pipeline: it resumes from the position committed in the"
          + " sync_state table, which tells", e);
    }
    return applyFailed(subject, e);
  }

  static String firstLine(String s) {
    if (s == null) {
      return "unknown error";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
