package io.tidesync.lakebase.internal;

import io.tidesync.spi.TokenProvider.Token;

/**
 * One call to a credential API. {@link RefreshingTokenProvider} decides when to call it, retries
 * and caches; implementations only translate.
 */
public interface CredentialSource {

  /**
   * Asks for a new credential.
   *
   * @throws CredentialCallException for a failed call, saying whether a retry may help
   */
  Token fetch();

  /** What the credential is for, e.g. {@code lakebase instance 'orders-db'}, for messages. */
  String describe();
}
