package io.tidesync.testkit;

import io.tidesync.testkit.internal.PostgresServers;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension that gives each test class a real PostgreSQL database.
 *
 * <pre>{@code
 * @ExtendWith(PostgresExtension.class)
 * class OrdersSyncIT {
 *   @Test void syncs(TestPostgres pg) { ... pg.dataSource() ... }
 * }
 * }</pre>
 *
 * <p>Where the server comes from:
 * <ol>
 *   <li>{@code TIDESYNC_TEST_PG_URL} (environment or system property), e.g.
 *       {@code postgresql://user:password@host:5432/postgres}: that server; each test class gets a
 *       new database on it. It needs {@code wal_level=logical} for replication tests.
 *   <li>{@code TIDESYNC_TEST_PG=testcontainers}: a PostgreSQL 17 container (needs a Docker engine
 *       and Testcontainers on the test classpath; tests are skipped when there is none).
 *   <li>Otherwise an embedded PostgreSQL 17 started from Maven artifacts, once per JVM, with
 *       {@code wal_level=logical}: no setup at all.
 * </ol>
 */
public final class PostgresExtension implements BeforeAllCallback, ParameterResolver {
  private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(PostgresExtension.class);
  private static final AtomicInteger DATABASES = new AtomicInteger();

  @Override
  public void beforeAll(ExtensionContext context) {
    database(context);
  }

  @Override
  public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
    return p.getParameter().getType() == TestPostgres.class;
  }

  @Override
  public Object resolveParameter(ParameterContext p, ExtensionContext e) {
    return database(e);
  }

  private static TestPostgres database(ExtensionContext context) {
    ExtensionContext classContext = context;
    while (classContext.getParent().isPresent() && classContext.getTestMethod().isPresent()) {
      classContext = classContext.getParent().get();
    }
    String name = "t" + DATABASES.incrementAndGet() + "_" + sanitize(context.getRequiredTestClass().getSimpleName());
    return classContext.getStore(NS).getOrComputeIfAbsent("db",
        k -> PostgresServers.shared().createDatabase(name), TestPostgres.class);
  }

  /** A new database on the shared server, for tests that want more than one. */
  public static TestPostgres newDatabase(String prefix) {
    return PostgresServers.shared().createDatabase("t" + DATABASES.incrementAndGet() + "_" + sanitize(prefix));
  }

  private static String sanitize(String s) {
    String out = s.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
    return out.length() > 40 ? out.substring(0, 40) : out;
  }
}
