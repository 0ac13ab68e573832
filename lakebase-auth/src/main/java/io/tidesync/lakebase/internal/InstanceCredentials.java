package io.tidesync.lakebase.internal;

import com.databricks.sdk.WorkspaceClient;
import com.databricks.sdk.service.database.DatabaseCredential;
import com.databricks.sdk.service.database.GenerateDatabaseCredentialRequest;
import io.tidesync.spi.TokenProvider.Token;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.UUID;

/** Credentials of a provisioned Lakebase instance: {@code POST /api/2.0/database/credentials}. */
public final class InstanceCredentials implements CredentialSource {
  /** Lakebase database credentials live one hour; assumed when a response has no expiry. */
  static final Duration DEFAULT_LIFETIME = Duration.ofHours(1);

  private final WorkspaceClient w;
  private final HostTarget target;
  private final Clock clock;

  public InstanceCredentials(WorkspaceClient w, String instanceName, Clock clock) {
    this.w = w;
    this.target = HostTarget.instance(instanceName);
    this.clock = clock;
  }

  @Override
  public Token fetch() {
    Instant asked = clock.instant();
    // a fresh request id each call: the service treats a repeated id as the same request
    GenerateDatabaseCredentialRequest request = new GenerateDatabaseCredentialRequest()
        .setInstanceNames(List.of(target.name()))
        .setRequestId(UUID.randomUUID().toString());
    DatabaseCredential c = SdkCalls.call(() -> w.database().generateDatabaseCredential(request));
    if (c == null || c.getToken() == null || c.getToken().isEmpty()) {
      throw new CredentialCallException(CredentialCallException.Kind.FATAL, "the response carried no token", null);
    }
    return new Token(c.getToken(), parseExpiry(c.getExpirationTime(), asked));
  }

  static Instant parseExpiry(String text, Instant asked) {
    if (text == null || text.isBlank()) {
      return asked.plus(DEFAULT_LIFETIME);
    }
    try {
      return OffsetDateTime.parse(text.trim()).toInstant();
    } catch (DateTimeParseException e) {
      throw new CredentialCallException(CredentialCallException.Kind.FATAL,
          "the response's expiration_time '" + text + "' is not an RFC 3339 time", e);
    }
  }

  public HostTarget target() {
    return target;
  }

  @Override
  public String describe() {
    return target.describe();
  }
}
