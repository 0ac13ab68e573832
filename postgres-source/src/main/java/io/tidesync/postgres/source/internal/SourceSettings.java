package io.tidesync.postgres.source.internal;

import io.tidesync.postgres.source.ReplicaIdentityPolicy;
import io.tidesync.postgres.source.TruncatePolicy;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import javax.sql.DataSource;

/** The validated settings of a {@code PostgresChangeSource}, with defaults resolved. */
public record SourceSettings(String pipeline, List<QualifiedName> tables, DataSource dataSource,
    Supplier<Connection> replicationConnections, String slotName, String publicationName,
    ReplicaIdentityPolicy replicaIdentity, TruncatePolicy truncates, boolean streamLargeTransactions,
    Duration statusInterval) {

  /** {@code tidesync_<pipeline>}: lower case, [a-z0-9_] only, at most 63 bytes (Postgres' name limit). */
  public static String defaultName(String pipeline) {
    String s = "tidesync_" + pipeline.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
    byte[] b = s.getBytes(StandardCharsets.US_ASCII);
    return b.length <= 63 ? s : s.substring(0, 63);
  }
}
