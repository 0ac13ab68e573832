package io.tidesync;

/**
 * A sink could not make a batch durable; the transaction was rolled back and the committed
 * position did not move. Keeps the SQLSTATE of the underlying database error when there is one.
 */
public class ApplyFailedException extends TidesyncException {
  private static final long serialVersionUID = 1L;
  private final String sqlState;

  public ApplyFailedException(String message, String sqlState, Throwable cause, boolean retryable) {
    super(message, cause, retryable);
    this.sqlState = sqlState;
  }

  /** The SQLSTATE reported by the database, or {@code null}. */
  public String sqlState() {
    return sqlState;
  }
}
