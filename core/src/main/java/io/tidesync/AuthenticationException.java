package io.tidesync;

/**
 * Credentials could not be obtained or were rejected (permission denied, expired token). The
 * message never contains a token or password.
 */
public class AuthenticationException extends TidesyncException {
  private static final long serialVersionUID = 1L;

  public AuthenticationException(String message, Throwable cause, boolean retryable) {
    super(message, cause, retryable);
  }
}
