package io.tidesync.testkit.databricks;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tidesync.testkit.databricks.FakeDatabricksApi.Route;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FakeDatabricksApiTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http = HttpClient.newHttpClient();

  private HttpResponse<String> post(FakeDatabricksApi api, String path, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(api.url() + path))
        .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json").build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(FakeDatabricksApi api, String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(api.url() + path)).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void issuesCredentialsWithExpiryFromItsClockAndCountsRequests() throws Exception {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");
    List<FakeDatabricksApi.IssuedCredential> hooked = new ArrayList<>();
    try (FakeDatabricksApi api = FakeDatabricksApi.builder().instance("db", "127.0.0.1")
        .endpoint("projects/p/branches/b/endpoints/e", "127.0.0.2")
        .clock(Clock.fixed(now, ZoneOffset.UTC)).tokenLifetime(Duration.ofMinutes(10)).onIssue(hooked::add).start()) {
      HttpResponse<String> r = post(api, "/api/2.0/database/credentials", "{\"instance_names\":[\"db\"],\"request_id\":\"r1\"}");
      assertThat(r.statusCode()).isEqualTo(200);
      JsonNode n = JSON.readTree(r.body());
      assertThat(n.get("expiration_time").asText()).isEqualTo("2026-01-01T00:10:00Z");
      assertThat(n.get("token").asText()).isEqualTo(api.lastIssued().token());
      assertThat(api.lastIssued().requestId()).isEqualTo("r1");
      assertThat(api.lastIssued().toString()).doesNotContain(api.lastIssued().token());

      r = post(api, "/api/2.0/postgres/credentials", "{\"endpoint\":\"projects/p/branches/b/endpoints/e\"}");
      assertThat(JSON.readTree(r.body()).get("expire_time").asText()).isEqualTo("2026-01-01T00:10:00Z");
      assertThat(hooked).hasSize(2);
      assertThat(hooked.get(0).token()).isNotEqualTo(hooked.get(1).token());

      assertThat(JSON.readTree(get(api, "/api/2.0/database/instances/db").body()).get("read_write_dns").asText())
          .isEqualTo("127.0.0.1");
      assertThat(JSON.readTree(get(api, "/api/2.0/postgres/projects/p/branches/b/endpoints/e").body())
          .at("/status/hosts/host").asText()).isEqualTo("127.0.0.2");
      assertThat(get(api, "/api/2.0/database/instances/nope").statusCode()).isEqualTo(404);

      assertThat(api.requestCount(Route.DATABASE_CREDENTIALS)).isEqualTo(1);
      assertThat(api.requestCount(Route.POSTGRES_CREDENTIALS)).isEqualTo(1);
      assertThat(api.requestCount(Route.DATABASE_INSTANCE)).isEqualTo(2);
    }
  }

  @Test
  void scriptedFailuresComeFirstInOrder() throws Exception {
    try (FakeDatabricksApi api = FakeDatabricksApi.builder().instance("db", "127.0.0.1")
        .failNext(Route.DATABASE_CREDENTIALS, 429, 1).start()) {
      api.failNext(Route.DATABASE_CREDENTIALS, 403, 1);
      String body = "{\"instance_names\":[\"db\"]}";
      HttpResponse<String> r = post(api, "/api/2.0/database/credentials", body);
      assertThat(r.statusCode()).isEqualTo(429);
      assertThat(r.headers().firstValue("Retry-After")).contains("0");
      assertThat(JSON.readTree(r.body()).get("error_code").asText()).isEqualTo("REQUEST_LIMIT_EXCEEDED");
      r = post(api, "/api/2.0/database/credentials", body);
      assertThat(r.statusCode()).isEqualTo(403);
      assertThat(JSON.readTree(r.body()).get("error_code").asText()).isEqualTo("PERMISSION_DENIED");
      assertThat(post(api, "/api/2.0/database/credentials", body).statusCode()).isEqualTo(200);
      assertThat(api.requestCount(Route.DATABASE_CREDENTIALS)).isEqualTo(3);
      assertThat(api.issued()).hasSize(1);
    }
  }

  @Test
  void isBoundToLoopbackOnly() {
    try (FakeDatabricksApi api = FakeDatabricksApi.builder().start()) {
      assertThat(api.url()).startsWith("http://127.0.0.1:");
      api.close(); // idempotent
    }
  }
}
