package io.tidesync.lakebase.internal;

import com.databricks.sdk.core.DatabricksError;
import com.databricks.sdk.core.DatabricksException;
import java.util.function.Supplier;

/** Runs one Databricks SDK call and classifies its failure as a {@link CredentialCallException}. */
final class SdkCalls {
  private SdkCalls() {}

  static <T> T call(Supplier<T> call) {
    try {
      return call.get();
    } catch (DatabricksError e) {
      throw classify(e);
    } catch (DatabricksException e) {
      // after its own retries the SDK wraps the last error
      for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
        if (c instanceof DatabricksError d) {
          throw classify(d);
        }
      }
      // transport failures (connection refused, timeouts) arrive without a status
      throw new CredentialCallException(CredentialCallException.Kind.RETRYABLE,
          "the Databricks API could not be reached: " + e.getClass().getSimpleName() + " " + shorten(e.getMessage()), e);
    }
  }

  private static CredentialCallException classify(DatabricksError e) {
    int status = e.getStatusCode();
    String code = e.getErrorCode();
    String detail = "HTTP " + status + (code == null || code.isEmpty() ? "" : " " + code)
        + (e.getMessage() == null ? "" : ": " + shorten(e.getMessage()));
    CredentialCallException.Kind kind;
    if (status == 401 || status == 403 || "PERMISSION_DENIED".equals(code) || "UNAUTHENTICATED".equals(code)) {
      kind = CredentialCallException.Kind.PERMISSION_DENIED;
    } else if (status == 404 || "RESOURCE_DOES_NOT_EXIST".equals(code) || "NOT_FOUND".equals(code)) {
      kind = CredentialCallException.Kind.NOT_FOUND;
    } else if (status == 429 || status >= 500) {
      kind = CredentialCallException.Kind.RETRYABLE;
    } else {
      kind = CredentialCallException.Kind.FATAL;
    }
    return new CredentialCallException(kind, detail, e);
  }

  /** Server messages are kept short; they describe the failure, never carry a credential. */
  private static String shorten(String s) {
    if (s == null) {
      return "";
    }
    return s.length() <= 200 ? s : s.substring(0, 200) + "...";
  }
}
