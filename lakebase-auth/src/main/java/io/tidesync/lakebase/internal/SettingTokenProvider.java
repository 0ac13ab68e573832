package io.tidesync.lakebase.internal;

import io.tidesync.AuthenticationException;
import io.tidesync.spi.TokenProvider;
import java.time.Clock;
import java.util.function.Supplier;

/**
 * Reads the token from a setting (environment variable, system property, file) on every call, so
 * that a value updated outside the process is picked up by the next login. The expiry is the
 * token's JWT {@code exp} claim when it has one, otherwise unknown (the server decides).
 */
public final class SettingTokenProvider implements TokenProvider {
  private final String description;
  private final Supplier<String> read;
  private final Clock clock;

  public SettingTokenProvider(String description, Supplier<String> read, Clock clock) {
    this.description = description;
    this.read = read;
    this.clock = clock;
  }

  @Override
  public Token token() {
    String value = read.get();
    if (value == null || value.isBlank()) {
      throw new AuthenticationException(description + ": cannot read the database token: it is not set or empty."
          + " Set it to a credential from 'databricks database generate-database-credential'", null, false);
    }
    value = value.strip();
    Token t = new Token(value, JwtExpiry.of(value));
    if (!t.isValidAt(clock.instant())) {
      throw new AuthenticationException(description + ": cannot log in: the token expired at " + t.expiresAt()
          + ". Put a new one in place", null, false);
    }
    return t;
  }

  @Override
  public String toString() {
    return "SettingTokenProvider[" + description + "]";
  }
}
