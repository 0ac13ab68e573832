package io.tidesync.lakebase;

import com.databricks.sdk.WorkspaceClient;
import io.tidesync.AuthenticationException;
import io.tidesync.ConfigurationException;
import io.tidesync.TidesyncException;
import io.tidesync.lakebase.internal.HostTarget;
import io.tidesync.lakebase.internal.RefreshingTokenProvider;
import io.tidesync.spi.ReplicationConnectionFactory;
import io.tidesync.spi.TokenProvider;
import io.tidesync.spi.TokenProvider.Token;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.SQLInvalidAuthorizationSpecException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLTransientConnectionException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.postgresql.Driver;
import org.postgresql.PGProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link DataSource} for Lakebase that logs every new physical connection in with a current
 * token from a {@link TokenProvider}. Tokens are checked only at login, so connections outlive
 * them; put a pool (HikariCP: {@code config.setDataSource(ds)}) in front for reuse.
 *
 * <pre>{@code
 * TokenProvider tokens = LakebaseTokens.forInstance(w, "orders-db");
 * LakebaseDataSource ds = LakebaseDataSource.builder()
 *     .instance("orders-db")          // host resolved via the SDK client behind the tokens
 *     .database("app")
 *     .user("sp-app@corp")
 *     .tokens(tokens)
 *     .build();                       // validates; no I/O
 * HikariConfig pool = new HikariConfig();
 * pool.setDataSource(ds);             // leave username and password unset
 * PostgresChangeSource.forTables("public.orders").dataSource(ds);   // replication logins too
 * }</pre>
 *
 * <p>Behaviour:
 * <ul>
 *   <li>The host comes from the instance ({@code read_write_dns}) or endpoint
 *       ({@code status.hosts.host}) on the first connection, and is cached; or it is given with
 *       {@link Builder#host(String)}.
 *   <li>{@code sslmode=require} by default; {@link SslMode#DISABLE} only for loopback hosts.
 *   <li>When the server rejects the password (SQLSTATE {@code 28P01} or {@code 28000}) the token is
 *       invalidated and the login retried once with a new one (a token rotated while it was in
 *       flight); a second rejection fails with a {@link SQLInvalidAuthorizationSpecException}.
 *   <li>Failures of the token provider arrive as {@link SQLException}s whose cause is the
 *       {@link TidesyncException}; a retryable one as {@link SQLTransientConnectionException}.
 *   <li>The token never appears in messages, logs or {@link #toString()}.
 * </ul>
 *
 * <p>Thread safe; any thread may open connections. {@link #getConnection(String, String)} is not
 * supported: the user is fixed and the password is always a token.
 */
public final class LakebaseDataSource implements DataSource, ReplicationConnectionFactory {
  private static final Logger LOG = LoggerFactory.getLogger(LakebaseDataSource.class);
  private static final Driver DRIVER = new Driver();
  private static final Pattern IPV4_LOOPBACK = Pattern.compile("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
  /** Lakebase's default database. */
  public static final String DEFAULT_DATABASE = "databricks_postgres";

  private final HostTarget target;
  private final WorkspaceClient workspace;
  private final HostHolder host;
  private final int port;
  private final String database;
  private final String user;
  private final TokenProvider tokens;
  private final SslMode sslMode;
  private final Map<String, String> properties;
  private final boolean replication;
  private final AtomicLong rejectedLogins;
  private final LakebaseDataSource replicationTwin;
  private volatile int loginTimeoutSeconds;
  private volatile PrintWriter logWriter;

  /** Shared between a data source and its replication twin, so the host is looked up once. */
  private static final class HostHolder {
    private final String explicit;
    private volatile String resolved;

    HostHolder(String explicit) {
      this.explicit = explicit;
    }
  }

  private LakebaseDataSource(Builder b, HostTarget target, WorkspaceClient workspace) {
    this.target = target;
    this.workspace = workspace;
    this.host = new HostHolder(b.host);
    this.port = b.port;
    this.database = b.database;
    this.user = b.user;
    this.tokens = b.tokens;
    this.sslMode = b.sslMode;
    this.properties = Map.copyOf(b.properties);
    this.replication = false;
    this.rejectedLogins = new AtomicLong();
    this.loginTimeoutSeconds = b.loginTimeoutSeconds;
    this.replicationTwin = new LakebaseDataSource(this);
  }

  private LakebaseDataSource(LakebaseDataSource base) {
    this.target = base.target;
    this.workspace = base.workspace;
    this.host = base.host;
    this.port = base.port;
    this.database = base.database;
    this.user = base.user;
    this.tokens = base.tokens;
    this.sslMode = base.sslMode;
    this.properties = base.properties;
    this.replication = true;
    this.rejectedLogins = new AtomicLong();
    this.loginTimeoutSeconds = base.loginTimeoutSeconds;
    this.replicationTwin = this;
  }

  /** Starts describing a data source. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A twin of this data source whose connections are logical replication connections
   * ({@code replication=database}, {@code assumeMinServerVersion=10},
   * {@code preferQueryMode=simple}), for the Postgres change source. Shares the host and tokens.
   */
  public LakebaseDataSource forReplication() {
    return replicationTwin;
  }

  /**
   * Opens a logical replication connection (see {@link #forReplication()}), logged in with a
   * current token like every other connection, with the same retry of a rejected login. The
   * Postgres change source calls it when this data source (or a pool in front of it) is its
   * {@code dataSource}.
   */
  @Override
  public Connection openReplicationConnection() throws SQLException {
    return replicationTwin.getConnection();
  }

  /** Whether connections are replication connections (see {@link #forReplication()}). */
  public boolean isReplication() {
    return replication;
  }

  /**
   * Opens a new physical connection, logged in with a current token.
   *
   * @throws SQLException if the server cannot be reached or refuses the login; the cause is a
   *     {@link TidesyncException} when no token or host could be had
   */
  @Override
  public Connection getConnection() throws SQLException {
    String h = host();
    Token token = token();
    try {
      return connect(h, token);
    } catch (SQLException first) {
      if (!isRejectedLogin(first)) {
        throw first;
      }
      rejectedLogins.incrementAndGet();
      LOG.info("{}: the server rejected the login of '{}' (SQLSTATE {}); retrying once with a new credential",
          describe(), user, first.getSQLState());
      tokens.invalidate(token);
      Token fresh = token();
      try {
        return connect(h, fresh);
      } catch (SQLException second) {
        if (!isRejectedLogin(second)) {
          throw second;
        }
        rejectedLogins.incrementAndGet();
        SQLInvalidAuthorizationSpecException e = new SQLInvalidAuthorizationSpecException(describe()
            + ": cannot log in as '" + user + "' to " + h + ":" + port + "/" + database
            + ": the server rejected a fresh credential too (" + second.getMessage() + ")."
            + " Check that a Postgres role exists for this identity and that it may connect to the database",
            second.getSQLState(), second);
        e.addSuppressed(first);
        throw e;
      }
    }
  }

  /** Not supported: the user is fixed by the builder and the password is always a token. */
  @Override
  public Connection getConnection(String username, String password) throws SQLException {
    throw new SQLFeatureNotSupportedException(describe() + ": cannot open a connection for an explicit user and password:"
        + " this data source logs in as '" + user + "' with tokens from its TokenProvider."
        + " Leave the pool's username and password unset");
  }

  /**
   * The JDBC URL connections use, without credentials. Resolves the host on first use (I/O).
   *
   * @throws SQLException if the host cannot be resolved
   */
  public String jdbcUrl() throws SQLException {
    return url(host());
  }

  /** Logins the server rejected so far (each rejected login was retried once with a new token). */
  public long rejectedLogins() {
    return rejectedLogins.get();
  }

  private String host() throws SQLException {
    if (host.explicit != null) {
      return host.explicit;
    }
    String h = host.resolved;
    if (h != null) {
      return h;
    }
    synchronized (host) {
      if (host.resolved == null) {
        String found;
        try {
          found = target.resolveHost(workspace);
        } catch (TidesyncException e) {
          throw asSqlException(e);
        }
        if (sslMode == SslMode.DISABLE && !isLoopback(found)) {
          throw asSqlException(new ConfigurationException(describe() + ": cannot connect without SSL to " + found
              + ": plain connections are allowed only to loopback hosts. Use SslMode.REQUIRE"));
        }
        LOG.info("{}: resolved host {}", target.describe(), found);
        host.resolved = found;
      }
      return host.resolved;
    }
  }

  private Token token() throws SQLException {
    try {
      return tokens.token();
    } catch (TidesyncException e) {
      throw asSqlException(e);
    }
  }

  private static SQLException asSqlException(TidesyncException e) {
    if (e.isRetryable()) {
      return new SQLTransientConnectionException(e.getMessage(), "08001", e);
    }
    if (e instanceof AuthenticationException) {
      return new SQLInvalidAuthorizationSpecException(e.getMessage(), "28000", e);
    }
    return new SQLNonTransientConnectionException(e.getMessage(), "08001", e);
  }

  private Connection connect(String h, Token token) throws SQLException {
    Properties p = new Properties();
    for (Map.Entry<String, String> e : properties.entrySet()) {
      p.setProperty(e.getKey(), e.getValue());
    }
    PGProperty.USER.set(p, user);
    PGProperty.PASSWORD.set(p, token.value());
    PGProperty.SSL_MODE.set(p, sslMode.pgValue());
    if (!p.containsKey(PGProperty.APPLICATION_NAME.getName())) {
      PGProperty.APPLICATION_NAME.set(p, "tidesync");
    }
    int timeout = loginTimeoutSeconds;
    if (timeout > 0) {
      PGProperty.LOGIN_TIMEOUT.set(p, timeout);
    }
    if (replication) {
      PGProperty.REPLICATION.set(p, "database");
      PGProperty.ASSUME_MIN_SERVER_VERSION.set(p, "10");
      PGProperty.PREFER_QUERY_MODE.set(p, "simple");
    }
    Connection c = DRIVER.connect(url(h), p);
    if (c == null) {
      throw new SQLNonTransientConnectionException(describe() + ": cannot connect: pgjdbc did not accept the URL " + url(h), "08001");
    }
    LOG.debug("{}: opened {}connection to {}:{}/{} as '{}' (credential valid until {})", describe(),
        replication ? "replication " : "", h, port, database, user, token.expiresAt());
    return c;
  }

  private String url(String h) {
    String hostPart = h.contains(":") && !h.startsWith("[") ? "[" + h + "]" : h;
    return "jdbc:postgresql://" + hostPart + ":" + port + "/" + URLEncoder.encode(database, StandardCharsets.UTF_8);
  }

  static boolean isRejectedLogin(SQLException e) {
    String state = e.getSQLState();
    return "28P01".equals(state) || "28000".equals(state);
  }

  static boolean isLoopback(String host) {
    String h = host.toLowerCase(Locale.ROOT);
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    return h.equals("localhost") || h.equals("::1") || h.equals("0:0:0:0:0:0:0:1") || IPV4_LOOPBACK.matcher(h).matches();
  }

  private String describe() {
    return target != null ? target.describe() : "lakebase host " + host.explicit;
  }

  @Override
  public PrintWriter getLogWriter() {
    return logWriter;
  }

  @Override
  public void setLogWriter(PrintWriter out) {
    this.logWriter = out;
  }

  @Override
  public void setLoginTimeout(int seconds) {
    this.loginTimeoutSeconds = seconds;
  }

  @Override
  public int getLoginTimeout() {
    return loginTimeoutSeconds;
  }

  @Override
  public java.util.logging.Logger getParentLogger() throws SQLFeatureNotSupportedException {
    throw new SQLFeatureNotSupportedException("LakebaseDataSource logs through SLF4J");
  }

  @Override
  public <T> T unwrap(Class<T> iface) throws SQLException {
    if (iface.isInstance(this)) {
      return iface.cast(this);
    }
    throw new SQLException("LakebaseDataSource is not a wrapper for " + iface.getName());
  }

  @Override
  public boolean isWrapperFor(Class<?> iface) {
    return iface.isInstance(this);
  }

  @Override
  public String toString() {
    String h = host.explicit != null ? host.explicit : host.resolved;
    return "LakebaseDataSource[" + (target != null ? target.describe() + ", " : "") + "host=" + (h == null ? "(unresolved)" : h)
        + ", port=" + port + ", database=" + database + ", user=" + user + ", sslmode=" + sslMode.pgValue()
        + (replication ? ", replication" : "") + "]";
  }

  /**
   * Settings of a {@link LakebaseDataSource}; {@link #build()} validates them all at once and does
   * no I/O. Not thread safe.
   */
  public static final class Builder {
    private String instance;
    private String endpoint;
    private String host;
    private int port = 5432;
    private String database = DEFAULT_DATABASE;
    private String user;
    private TokenProvider tokens;
    private WorkspaceClient workspace;
    private SslMode sslMode = SslMode.REQUIRE;
    private int loginTimeoutSeconds = 30;
    private final Map<String, String> properties = new LinkedHashMap<>();

    private Builder() {}

    /** A provisioned instance; its host is looked up on first connection. */
    public Builder instance(String name) {
      this.instance = name;
      return this;
    }

    /** An autoscaling endpoint {@code projects/p/branches/b/endpoints/e}; its host is looked up on first connection. */
    public Builder endpoint(String name) {
      this.endpoint = name;
      return this;
    }

    /** The host, instead of looking it up (takes precedence over the instance or endpoint). */
    public Builder host(String host) {
      this.host = host;
      return this;
    }

    /** The port (default 5432). */
    public Builder port(int port) {
      this.port = port;
      return this;
    }

    /** The database (default {@value LakebaseDataSource#DEFAULT_DATABASE}). */
    public Builder database(String database) {
      this.database = database;
      return this;
    }

    /** The Postgres role: the identity's user name or service principal application id. Required. */
    public Builder user(String user) {
      this.user = user;
      return this;
    }

    /** Where passwords come from. Required. */
    public Builder tokens(TokenProvider tokens) {
      this.tokens = tokens;
      return this;
    }

    /**
     * The SDK client that looks up the host; defaults to the one behind
     * {@link LakebaseTokens#forInstance}/{@link LakebaseTokens#forEndpoint} tokens.
     */
    public Builder workspaceClient(WorkspaceClient workspace) {
      this.workspace = workspace;
      return this;
    }

    /** SSL (default {@link SslMode#REQUIRE}); {@link SslMode#DISABLE} only for loopback hosts. */
    public Builder sslMode(SslMode mode) {
      this.sslMode = mode;
      return this;
    }

    /** Seconds a login may take (default 30; 0 waits as long as the driver does). */
    public Builder loginTimeoutSeconds(int seconds) {
      this.loginTimeoutSeconds = seconds;
      return this;
    }

    /**
     * An extra pgjdbc connection property, such as {@code sslrootcert} or {@code tcpKeepAlive}.
     * {@code user}, {@code password} and {@code sslmode} are set by this builder's own methods.
     */
    public Builder property(String key, String value) {
      this.properties.put(key, value);
      return this;
    }

    /**
     * The data source.
     *
     * @throws ConfigurationException listing every problem
     */
    public LakebaseDataSource build() {
      List<String> problems = new ArrayList<>();
      RefreshingTokenProvider sdkTokens = tokens instanceof RefreshingTokenProvider r ? r : null;
      HostTarget target = null;
      if (instance != null && endpoint != null) {
        problems.add("both instance(..) and endpoint(..) given: call one");
      } else if (instance != null) {
        target = instance.isBlank() ? null : HostTarget.instance(instance);
        if (instance.isBlank()) {
          problems.add("the instance name is empty");
        }
      } else if (endpoint != null) {
        target = endpoint.isBlank() ? null : HostTarget.endpoint(endpoint);
        if (endpoint.isBlank()) {
          problems.add("the endpoint name is empty");
        }
      } else if (host == null && sdkTokens != null && sdkTokens.target().isPresent()) {
        target = sdkTokens.target().get();
      }
      WorkspaceClient w = workspace != null ? workspace : sdkTokens == null ? null : sdkTokens.workspace().orElse(null);
      if (host != null && host.isBlank()) {
        problems.add("the host is empty");
      } else if (host == null && target == null && instance == null && endpoint == null) {
        problems.add("no host: call instance(..), endpoint(..) or host(..)");
      } else if (host == null && target != null && w == null) {
        problems.add("cannot look up the host of " + target.describe() + " without a WorkspaceClient: call"
            + " workspaceClient(w), use LakebaseTokens.forInstance/forEndpoint tokens, or give host(..)");
      }
      if (port < 1 || port > 65535) {
        problems.add("port is " + port + ": it must be 1..65535");
      }
      if (database == null || database.isBlank()) {
        problems.add("the database is empty: call database(..) (Lakebase's default is " + DEFAULT_DATABASE + ")");
      }
      if (user == null || user.isBlank()) {
        problems.add("no user: call user(..) with the Postgres role of this identity (its user name or application id)");
      }
      if (tokens == null) {
        problems.add("no tokens: call tokens(LakebaseTokens.forInstance(w, name)) or another TokenProvider");
      }
      if (sslMode == null) {
        problems.add("sslMode is null: use SslMode.REQUIRE");
      } else if (sslMode == SslMode.DISABLE && host != null && !host.isBlank() && !isLoopback(host)) {
        problems.add("sslMode DISABLE with host " + host + ": Lakebase requires SSL; plain connections are allowed only to"
            + " loopback hosts (tests). Use SslMode.REQUIRE");
      }
      if (loginTimeoutSeconds < 0) {
        problems.add("loginTimeoutSeconds is " + loginTimeoutSeconds + ": it must be 0 or more");
      }
      for (String key : properties.keySet()) {
        String k = key == null ? "" : key.toLowerCase(Locale.ROOT);
        if (k.equals("user") || k.equals("password") || k.equals("sslmode")) {
          problems.add("property '" + key + "' is set by the builder: use user(..), tokens(..) or sslMode(..)");
        }
      }
      if (!problems.isEmpty()) {
        throw ConfigurationException.of("lakebase data source", problems);
      }
      return new LakebaseDataSource(this, target, w);
    }
  }
}
