package io.tidesync.lakebase.internal;

import com.databricks.sdk.WorkspaceClient;
import com.databricks.sdk.service.postgres.DatabaseCredential;
import com.databricks.sdk.service.postgres.GenerateDatabaseCredentialRequest;
import com.google.protobuf.Timestamp;
import io.tidesync.spi.TokenProvider.Token;
import java.time.Clock;
import java.time.Instant;

/** Credentials of an autoscaling Lakebase endpoint: {@code POST /api/2.0/postgres/credentials}. */
public final class EndpointCredentials implements CredentialSource {
  private final WorkspaceClient w;
  private final HostTarget target;
  private final Clock clock;

  public EndpointCredentials(WorkspaceClient w, String endpointName, Clock clock) {
    this.w = w;
    this.target = HostTarget.endpoint(endpointName);
    this.clock = clock;
  }

  @Override
  public Token fetch() {
    Instant asked = clock.instant();
    GenerateDatabaseCredentialRequest request = new GenerateDatabaseCredentialRequest().setEndpoint(target.name());
    DatabaseCredential c = SdkCalls.call(() -> w.postgres().generateDatabaseCredential(request));
    if (c == null || c.getToken() == null || c.getToken().isEmpty()) {
      throw new CredentialCallException(CredentialCallException.Kind.FATAL, "the response carried no token", null);
    }
    Timestamp t = c.getExpireTime();
    Instant expiresAt = t == null || (t.getSeconds() == 0 && t.getNanos() == 0)
        ? asked.plus(InstanceCredentials.DEFAULT_LIFETIME)
        : Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    return new Token(c.getToken(), expiresAt);
  }

  public HostTarget target() {
    return target;
  }

  @Override
  public String describe() {
    return target.describe();
  }
}
