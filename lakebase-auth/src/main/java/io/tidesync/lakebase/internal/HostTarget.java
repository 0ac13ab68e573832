package io.tidesync.lakebase.internal;

import com.databricks.sdk.WorkspaceClient;
import com.databricks.sdk.service.database.DatabaseInstance;
import com.databricks.sdk.service.postgres.Endpoint;
import io.tidesync.AuthenticationException;
import io.tidesync.ConfigurationException;
import io.tidesync.TidesyncException;

/**
 * A Lakebase database a credential is for: a provisioned instance or an autoscaling endpoint.
 *
 * @param kind which API knows it
 * @param name instance name, or endpoint name {@code projects/p/branches/b/endpoints/e}
 */
public record HostTarget(Kind kind, String name) {

  /** Which API knows the target. */
  public enum Kind { INSTANCE, ENDPOINT }

  public static HostTarget instance(String name) {
    return new HostTarget(Kind.INSTANCE, name);
  }

  public static HostTarget endpoint(String name) {
    return new HostTarget(Kind.ENDPOINT, name);
  }

  /** {@code lakebase instance 'orders-db'} or {@code lakebase endpoint 'projects/..'}. */
  public String describe() {
    return "lakebase " + (kind == Kind.INSTANCE ? "instance" : "endpoint") + " '" + name + "'";
  }

  /**
   * Looks up the read-write host with the SDK.
   *
   * @throws ConfigurationException if the target does not exist or has no host yet
   * @throws AuthenticationException if the identity may not read it, or the API kept failing
   */
  public String resolveHost(WorkspaceClient w) {
    String host;
    try {
      if (kind == Kind.INSTANCE) {
        DatabaseInstance i = SdkCalls.call(() -> w.database().getDatabaseInstance(name));
        host = i.getReadWriteDns();
        if (host == null || host.isBlank()) {
          throw new ConfigurationException(describe() + ": cannot resolve the host: the instance has no read-write DNS name"
              + " (state " + i.getState() + "). Wait until it is AVAILABLE, or give the host explicitly");
        }
      } else {
        Endpoint e = SdkCalls.call(() -> w.postgres().getEndpoint(name));
        host = e.getStatus() == null || e.getStatus().getHosts() == null ? null : e.getStatus().getHosts().getHost();
        if (host == null || host.isBlank()) {
          throw new ConfigurationException(describe() + ": cannot resolve the host: the endpoint reports no host"
              + (e.getStatus() == null ? "" : " (state " + e.getStatus().getCurrentState() + ")")
              + ". Wait until it is ACTIVE, or give the host explicitly");
        }
      }
    } catch (CredentialCallException e) {
      switch (e.kind()) {
        case NOT_FOUND -> throw new ConfigurationException(describe() + ": cannot resolve the host: it does not exist ("
            + e.getMessage() + "). Check the name and the workspace");
        case PERMISSION_DENIED -> throw new AuthenticationException(describe() + ": cannot resolve the host: permission denied ("
            + e.getMessage() + "). Grant this identity access, or give the host explicitly", e, false);
        default -> throw new TidesyncException(describe() + ": cannot resolve the host: " + e.getMessage()
            + ". Try again later, or give the host explicitly", e, e.kind() == CredentialCallException.Kind.RETRYABLE);
      }
    }
    return host;
  }
}
