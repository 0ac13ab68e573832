package io.tidesync;

/**
 * Root of every exception Tidesync throws. Unchecked; subtypes exist only where a caller can act
 * on the difference.
 *
 * <p>Messages follow one form: {@code <pipeline>: cannot <verb> <object>: <reason>. <remedy>}.
 * {@link #isRetryable()} tells the pipeline runner whether trying the same step again may succeed
 * (a dropped connection, a serialization failure); configuration and data errors are not.
 */
public class TidesyncException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final boolean retryable;

  public TidesyncException(String message) {
    this(message, null, false);
  }

  public TidesyncException(String message, Throwable cause) {
    this(message, cause, false);
  }

  public TidesyncException(String message, Throwable cause, boolean retryable) {
    super(message, cause);
    this.retryable = retryable;
  }

  /** Whether repeating the failed step, unchanged, may succeed. */
  public boolean isRetryable() {
    return retryable;
  }
}
