package io.tidesync.lakebase.internal;

/**
 * A failed credential call, classified. Never carries a token: the detail is the HTTP status,
 * error code and the server's message.
 */
public final class CredentialCallException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** How a caller should react. */
  public enum Kind {
    /** Throttled or a server-side fault: try again after a pause. */
    RETRYABLE,
    /** The identity may not obtain the credential. */
    PERMISSION_DENIED,
    /** The instance or endpoint does not exist. */
    NOT_FOUND,
    /** Anything else: a retry will not help. */
    FATAL
  }

  private final Kind kind;

  public CredentialCallException(Kind kind, String detail, Throwable cause) {
    super(detail, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}
