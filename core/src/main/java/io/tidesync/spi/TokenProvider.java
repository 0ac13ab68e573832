package io.tidesync.spi;

import java.time.Instant;
import java.util.Objects;

/**
 * Supplies short-lived database credentials, such as Lakebase's one-hour OAuth tokens.
 * Implementations are thread safe, cache the current token and refresh it ahead of expiry.
 */
public interface TokenProvider {

  /**
   * A token valid for at least a little while longer. May block while one caller refreshes.
   *
   * @throws io.tidesync.AuthenticationException if no valid token can be had
   */
  Token token();

  /**
   * Drops the cached token so that the next {@link #token()} fetches a new one; called when a
   * server rejected it.
   */
  default void invalidate(Token rejected) {}

  /**
   * A credential and the instant it stops being accepted. {@link #toString()} never shows the
   * secret.
   */
  record Token(String value, Instant expiresAt) {
    public Token {
      Objects.requireNonNull(value, "value");
      Objects.requireNonNull(expiresAt, "expiresAt");
    }

    public boolean isValidAt(Instant now) {
      return now.isBefore(expiresAt);
    }

    @Override
    public String toString() {
      return "Token[expiresAt=" + expiresAt + ", value=***]";
    }
  }
}
