package io.tidesync.lakebase.internal;

import io.tidesync.AuthenticationException;
import io.tidesync.spi.TokenProvider;
import java.time.Clock;

/** Always the same token, until it expires; for tests and short local runs. */
public final class FixedTokenProvider implements TokenProvider {
  private final Token token;
  private final Clock clock;

  public FixedTokenProvider(Token token, Clock clock) {
    this.token = token;
    this.clock = clock;
  }

  @Override
  public Token token() {
    if (!token.isValidAt(clock.instant())) {
      throw new AuthenticationException("fixed database token: cannot log in: the token expired at " + token.expiresAt()
          + ". Generate a new one (databricks database generate-database-credential) or use LakebaseTokens.forInstance(..)",
          null, false);
    }
    return token;
  }

  @Override
  public String toString() {
    return "FixedTokenProvider[valid until " + token.expiresAt() + "]";
  }
}
