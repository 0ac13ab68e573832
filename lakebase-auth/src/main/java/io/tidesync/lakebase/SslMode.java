package io.tidesync.lakebase;

/**
 * How {@link LakebaseDataSource} protects its connections; the pgjdbc {@code sslmode} values.
 * Lakebase requires SSL: {@link #DISABLE} is accepted only for loopback hosts (local tests).
 */
public enum SslMode {
  /** No SSL. Only for a loopback host. */
  DISABLE("disable"),
  /** SSL, without verifying the server certificate (the default, as psql's {@code sslmode=require}). */
  REQUIRE("require"),
  /** SSL, with the server certificate verified against the trusted roots. */
  VERIFY_CA("verify-ca"),
  /** SSL, with the certificate verified and the host name checked. */
  VERIFY_FULL("verify-full");

  private final String pgValue;

  SslMode(String pgValue) {
    this.pgValue = pgValue;
  }

  /** The pgjdbc {@code sslmode} value. */
  public String pgValue() {
    return pgValue;
  }
}
