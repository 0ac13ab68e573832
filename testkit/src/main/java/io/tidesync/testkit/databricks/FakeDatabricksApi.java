package io.tidesync.testkit.databricks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A local stand-in for the parts of the Databricks REST API that Lakebase clients use, so that the
 * real Databricks SDK client can be tested without a workspace. Bound to 127.0.0.1 only.
 *
 * <pre>{@code
 * try (FakeDatabricksApi api = FakeDatabricksApi.builder()
 *     .instance("orders-db", "127.0.0.1")
 *     .endpoint("projects/p/branches/production/endpoints/primary", "127.0.0.1")
 *     .tokenLifetime(Duration.ofHours(1))
 *     .onIssue(c -> rotatePassword(c.token()))
 *     .start()) {
 *   WorkspaceClient w = new WorkspaceClient(new DatabricksConfig().setHost(api.url()).setToken("x"));
 *   api.failNext(Route.DATABASE_CREDENTIALS, 500, 2);   // the next two credential calls fail
 *   ...
 *   assertThat(api.requestCount(Route.DATABASE_CREDENTIALS)).isEqualTo(3);
 * }
 * }</pre>
 *
 * <p>Serves {@code POST /api/2.0/database/credentials} ({@code token}, {@code expiration_time}),
 * {@code POST /api/2.0/postgres/credentials} ({@code token}, {@code expire_time}),
 * {@code GET /api/2.0/database/instances/{name}} ({@code read_write_dns}),
 * {@code GET /api/2.0/postgres/{endpoint name}} ({@code status.hosts.host}), and the two
 * discovery documents the SDK reads at construction. Errors use the Databricks body
 * {@code {"error_code": .., "message": ..}}; 429 and 503 carry {@code Retry-After} (0 seconds by
 * default, so the SDK's own retries do not slow tests down).
 *
 * <p>Thread safe: requests are served by a small pool of threads, and scripting methods may be
 * called while requests run. {@link #close()} stops the server and is idempotent.
 */
public final class FakeDatabricksApi implements AutoCloseable {

  /** The API calls the fake serves and counts. */
  public enum Route {
    /** {@code POST /api/2.0/database/credentials} (provisioned instances). */
    DATABASE_CREDENTIALS,
    /** {@code POST /api/2.0/postgres/credentials} (autoscaling endpoints). */
    POSTGRES_CREDENTIALS,
    /** {@code GET /api/2.0/database/instances/{name}}. */
    DATABASE_INSTANCE,
    /** {@code GET /api/2.0/postgres/{name}}. */
    POSTGRES_ENDPOINT,
    /** The discovery documents ({@code /.well-known/..}, {@code /oidc/.well-known/..}). */
    DISCOVERY,
    /** Anything else (answered with 404). */
    OTHER
  }

  /**
   * A credential the fake handed out. {@link #toString()} hides the token.
   *
   * @param route which credential API issued it
   * @param resource the instance name or endpoint name asked for
   * @param token the secret
   * @param expiresAt when it stops being valid
   * @param requestId the request id the client sent (provisioned API), or null
   */
  public record IssuedCredential(Route route, String resource, String token, Instant expiresAt, String requestId) {
    @Override
    public String toString() {
      return "IssuedCredential[" + route + " " + resource + ", expiresAt=" + expiresAt + ", token=***]";
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SecureRandom RANDOM = new SecureRandom();

  private final HttpServer server;
  private final ExecutorService executor;
  private final Map<String, String> instances;
  private final Map<String, String> endpoints;
  private final Clock clock;
  private final Consumer<IssuedCredential> onIssue;
  private final int retryAfterSeconds;
  private volatile Duration tokenLifetime;
  private volatile Duration responseDelay;
  private final Map<Route, AtomicInteger> counts = new EnumMap<>(Route.class);
  private final Map<Route, Deque<Integer>> scriptedFailures = new ConcurrentHashMap<>();
  private final List<IssuedCredential> issued = new CopyOnWriteArrayList<>();
  private final AtomicInteger serial = new AtomicInteger();
  private volatile boolean closed;

  private FakeDatabricksApi(Builder b) throws IOException {
    this.instances = Map.copyOf(b.instances);
    this.endpoints = Map.copyOf(b.endpoints);
    this.clock = b.clock;
    this.onIssue = b.onIssue;
    this.retryAfterSeconds = b.retryAfterSeconds;
    this.tokenLifetime = b.tokenLifetime;
    this.responseDelay = b.responseDelay;
    for (Route r : Route.values()) {
      counts.put(r, new AtomicInteger());
      scriptedFailures.put(r, new ArrayDeque<>());
    }
    b.failures.forEach(f -> failNext(f.route, f.status, f.times));
    this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 128);
    AtomicInteger threads = new AtomicInteger();
    this.executor = Executors.newFixedThreadPool(8, r -> {
      Thread t = new Thread(r, "fake-databricks-api-" + threads.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    server.createContext("/", this::handle);
    server.start();
  }

  /** Starts describing a fake API. */
  public static Builder builder() {
    return new Builder();
  }

  /** The base URL to give the SDK as its host, {@code http://127.0.0.1:<port>}. */
  public String url() {
    return "http://127.0.0.1:" + port();
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** How many requests reached {@code route}, failed ones included. */
  public int requestCount(Route route) {
    return counts.get(route).get();
  }

  /** Every credential issued so far, oldest first. */
  public List<IssuedCredential> issued() {
    return List.copyOf(issued);
  }

  /** The last credential issued, or null. */
  public IssuedCredential lastIssued() {
    List<IssuedCredential> all = issued;
    return all.isEmpty() ? null : all.get(all.size() - 1);
  }

  /**
   * The next {@code times} requests to {@code route} fail with HTTP {@code status} (403, 404, 429,
   * 500, 503 map to the matching Databricks error codes). Adds to what is already scripted.
   */
  public void failNext(Route route, int status, int times) {
    Deque<Integer> q = scriptedFailures.get(Objects.requireNonNull(route, "route"));
    synchronized (q) {
      for (int i = 0; i < times; i++) {
        q.addLast(status);
      }
    }
  }

  /** Changes how long newly issued tokens live. */
  public void tokenLifetime(Duration lifetime) {
    this.tokenLifetime = Objects.requireNonNull(lifetime, "lifetime");
  }

  /** Delays every credential response (to make concurrent callers overlap). */
  public void responseDelay(Duration delay) {
    this.responseDelay = Objects.requireNonNull(delay, "delay");
  }

  /** Stops the server. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    server.stop(0);
    executor.shutdownNow();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "FakeDatabricksApi[" + url() + ", instances=" + instances.keySet() + ", endpoints=" + endpoints.keySet() + "]";
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      String method = ex.getRequestMethod();
      String path = ex.getRequestURI().getRawPath();
      byte[] body;
      try (InputStream in = ex.getRequestBody()) {
        body = in.readAllBytes();
      }
      Route route = routeOf(method, path);
      counts.get(route).incrementAndGet();
      Integer failure = nextFailure(route);
      if (failure != null) {
        sendError(ex, failure, "injected failure");
        return;
      }
      switch (route) {
        case DISCOVERY -> discovery(ex, path);
        case DATABASE_CREDENTIALS -> databaseCredential(ex, JSON.readTree(body));
        case POSTGRES_CREDENTIALS -> postgresCredential(ex, JSON.readTree(body));
        case DATABASE_INSTANCE -> instance(ex, decode(path.substring("/api/2.0/database/instances/".length())));
        case POSTGRES_ENDPOINT -> endpoint(ex, decode(path.substring("/api/2.0/postgres/".length())));
        default -> sendError(ex, 404, "no such API in the fake: " + method + " " + path);
      }
    } catch (RuntimeException e) {
      // a failing onIssue hook or a malformed request: answer like a server error
      sendError(ex, 500, "fake API failed: " + e.getClass().getSimpleName());
    }
  }

  private static Route routeOf(String method, String path) {
    if (path.startsWith("/.well-known/") || path.startsWith("/oidc/.well-known/")) {
      return Route.DISCOVERY;
    }
    if ("POST".equals(method) && path.equals("/api/2.0/database/credentials")) {
      return Route.DATABASE_CREDENTIALS;
    }
    if ("POST".equals(method) && path.equals("/api/2.0/postgres/credentials")) {
      return Route.POSTGRES_CREDENTIALS;
    }
    if ("GET".equals(method) && path.startsWith("/api/2.0/database/instances/")) {
      return Route.DATABASE_INSTANCE;
    }
    if ("GET".equals(method) && path.startsWith("/api/2.0/postgres/projects/")) {
      return Route.POSTGRES_ENDPOINT;
    }
    return Route.OTHER;
  }

  private Integer nextFailure(Route route) {
    Deque<Integer> q = scriptedFailures.get(route);
    synchronized (q) {
      return q.pollFirst();
    }
  }

  private void discovery(HttpExchange ex, String path) throws IOException {
    ObjectNode n = JSON.createObjectNode();
    if (path.startsWith("/oidc/")) {
      n.put("authorization_endpoint", url() + "/oidc/v1/authorize");
      n.put("token_endpoint", url() + "/oidc/v1/token");
    } else {
      n.put("oidc_endpoint", url() + "/oidc");
      n.put("workspace_id", "1234567890");
      n.put("cloud", "aws");
    }
    send(ex, 200, n);
  }

  private void databaseCredential(HttpExchange ex, JsonNode request) throws IOException {
    JsonNode names = request.path("instance_names");
    if (!names.isArray() || names.isEmpty()) {
      sendError(ex, 400, "instance_names is required");
      return;
    }
    for (JsonNode name : names) {
      if (!instances.containsKey(name.asText())) {
        sendError(ex, 404, "Database instance '" + name.asText() + "' does not exist.");
        return;
      }
    }
    String requestId = request.hasNonNull("request_id") ? request.get("request_id").asText() : null;
    IssuedCredential c = issue(Route.DATABASE_CREDENTIALS, names.get(0).asText(), requestId);
    ObjectNode n = JSON.createObjectNode();
    n.put("token", c.token());
    n.put("expiration_time", c.expiresAt().toString());
    send(ex, 200, n);
  }

  private void postgresCredential(HttpExchange ex, JsonNode request) throws IOException {
    String endpoint = request.path("endpoint").asText("");
    if (endpoint.isEmpty()) {
      sendError(ex, 400, "endpoint is required");
      return;
    }
    if (!endpoints.containsKey(endpoint)) {
      sendError(ex, 404, "Endpoint '" + endpoint + "' does not exist.");
      return;
    }
    IssuedCredential c = issue(Route.POSTGRES_CREDENTIALS, endpoint, null);
    ObjectNode n = JSON.createObjectNode();
    n.put("token", c.token());
    n.put("expire_time", c.expiresAt().toString());
    send(ex, 200, n);
  }

  private IssuedCredential issue(Route route, String resource, String requestId) {
    delay();
    byte[] secret = new byte[16];
    RANDOM.nextBytes(secret);
    String token = "fake-lakebase-token-" + serial.incrementAndGet() + "-" + HexFormat.of().formatHex(secret);
    IssuedCredential c = new IssuedCredential(route, resource, token, clock.instant().plus(tokenLifetime), requestId);
    onIssue.accept(c); // before the response: the token works by the time the client has it
    issued.add(c);
    return c;
  }

  private void delay() {
    Duration d = responseDelay;
    if (!d.isZero()) {
      try {
        Thread.sleep(d.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void instance(HttpExchange ex, String name) throws IOException {
    String host = instances.get(name);
    if (host == null) {
      sendError(ex, 404, "Database instance '" + name + "' does not exist.");
      return;
    }
    ObjectNode n = JSON.createObjectNode();
    n.put("name", name);
    n.put("state", "AVAILABLE");
    n.put("read_write_dns", host);
    n.put("pg_version", "PG_VERSION_17");
    send(ex, 200, n);
  }

  private void endpoint(HttpExchange ex, String name) throws IOException {
    String host = endpoints.get(name);
    if (host == null) {
      sendError(ex, 404, "Endpoint '" + name + "' does not exist.");
      return;
    }
    ObjectNode n = JSON.createObjectNode();
    n.put("name", name);
    ObjectNode status = n.putObject("status");
    status.put("current_state", "ACTIVE");
    status.putObject("hosts").put("host", host);
    send(ex, 200, n);
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }

  private void sendError(HttpExchange ex, int status, String message) throws IOException {
    String code = switch (status) {
      case 400 -> "INVALID_PARAMETER_VALUE";
      case 401 -> "UNAUTHENTICATED";
      case 403 -> "PERMISSION_DENIED";
      case 404 -> "RESOURCE_DOES_NOT_EXIST";
      case 429 -> "REQUEST_LIMIT_EXCEEDED";
      case 503 -> "TEMPORARILY_UNAVAILABLE";
      default -> "INTERNAL_ERROR";
    };
    if (status == 429 || status == 503) {
      ex.getResponseHeaders().add("Retry-After", Integer.toString(retryAfterSeconds));
    }
    ObjectNode n = JSON.createObjectNode();
    n.put("error_code", code);
    n.put("message", status == 403 ? "Permission denied: the caller may not access this resource (" + message + ")" : message);
    send(ex, status, n);
  }

  private static void send(HttpExchange ex, int status, JsonNode body) throws IOException {
    byte[] bytes = JSON.writeValueAsBytes(body);
    ex.getResponseHeaders().add("Content-Type", "application/json");
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** Describes a {@link FakeDatabricksApi}; {@link #start()} binds it to a free port on 127.0.0.1. */
  public static final class Builder {
    private final Map<String, String> instances = new ConcurrentHashMap<>();
    private final Map<String, String> endpoints = new ConcurrentHashMap<>();
    private final List<Failure> failures = new ArrayList<>();
    private Clock clock = Clock.systemUTC();
    private Duration tokenLifetime = Duration.ofHours(1);
    private Duration responseDelay = Duration.ZERO;
    private Consumer<IssuedCredential> onIssue = c -> {};
    private int retryAfterSeconds;

    private record Failure(Route route, int status, int times) {}

    private Builder() {}

    /** A provisioned instance whose {@code read_write_dns} is {@code host}. */
    public Builder instance(String name, String host) {
      instances.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(host, "host"));
      return this;
    }

    /** An autoscaling endpoint ({@code projects/p/branches/b/endpoints/e}) whose host is {@code host}. */
    public Builder endpoint(String name, String host) {
      endpoints.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(host, "host"));
      return this;
    }

    /** The clock expiry times are computed from (default: the system clock). */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** How long issued tokens live (default 1 hour, as Lakebase's). */
    public Builder tokenLifetime(Duration lifetime) {
      this.tokenLifetime = Objects.requireNonNull(lifetime, "lifetime");
      return this;
    }

    /** Delay before every credential response (default none). */
    public Builder responseDelay(Duration delay) {
      this.responseDelay = Objects.requireNonNull(delay, "delay");
      return this;
    }

    /**
     * Called on a server thread with each new credential before the client receives it, e.g. to
     * set a database role's password. If it throws, the request fails with 500.
     */
    public Builder onIssue(Consumer<IssuedCredential> hook) {
      this.onIssue = Objects.requireNonNull(hook, "hook");
      return this;
    }

    /** The {@code Retry-After} seconds sent with 429 and 503 (default 0). */
    public Builder retryAfterSeconds(int seconds) {
      this.retryAfterSeconds = seconds;
      return this;
    }

    /** The first {@code times} requests to {@code route} fail with HTTP {@code status}. */
    public Builder failNext(Route route, int status, int times) {
      failures.add(new Failure(Objects.requireNonNull(route, "route"), status, times));
      return this;
    }

    /** Starts the server on a free port of 127.0.0.1. */
    public FakeDatabricksApi start() {
      try {
        return new FakeDatabricksApi(this);
      } catch (IOException e) {
        throw new IllegalStateException("cannot start the fake Databricks API on 127.0.0.1: " + e.getMessage(), e);
      }
    }
  }
}
