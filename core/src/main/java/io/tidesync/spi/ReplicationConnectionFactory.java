package io.tidesync.spi;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * Opens PostgreSQL logical replication connections for a {@link javax.sql.DataSource} whose
 * connection settings cannot be copied, such as one that logs in with short-lived credentials.
 * The Postgres change source uses it when the {@code DataSource} it is given implements it (or
 * {@link java.sql.Wrapper#unwrap unwraps} to it); plain connections still come from the
 * {@code DataSource} itself.
 *
 * <pre>{@code
 * LakebaseDataSource ds = LakebaseDataSource.builder()...build();   // implements this interface
 * PostgresChangeSource.forTables("public.orders").dataSource(ds);  // any pool in front also works
 * }</pre>
 *
 * <p>Called on the pipeline's worker thread, once per replication stream (and again after a
 * lost connection); implementations are thread safe and log every new connection in afresh.
 */
public interface ReplicationConnectionFactory {

  /**
   * Opens a new physical connection to the same database with {@code replication=database},
   * {@code preferQueryMode=simple} and {@code assumeMinServerVersion=10}, as pgjdbc's replication
   * API needs. The caller closes it.
   *
   * @throws SQLException if the server cannot be reached or refuses the login
   */
  Connection openReplicationConnection() throws SQLException;
}
