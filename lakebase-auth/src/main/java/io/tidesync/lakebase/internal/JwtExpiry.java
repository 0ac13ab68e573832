package io.tidesync.lakebase.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.Base64;

/** The {@code exp} claim of a JWT, read without checking the signature (the server does that). */
final class JwtExpiry {
  private static final ObjectMapper JSON = new ObjectMapper();

  private JwtExpiry() {}

  /** The expiry, or {@link Instant#MAX} when the token is not a JWT or has no {@code exp}. */
  static Instant of(String token) {
    String[] parts = token.split("\\.");
    if (parts.length != 3) {
      return Instant.MAX;
    }
    try {
      JsonNode claims = JSON.readTree(Base64.getUrlDecoder().decode(parts[1]));
      JsonNode exp = claims.get("exp");
      return exp != null && exp.canConvertToLong() ? Instant.ofEpochSecond(exp.asLong()) : Instant.MAX;
    } catch (Exception e) {
      // deliberately no detail: the message could echo part of the token
      return Instant.MAX;
    }
  }
}
