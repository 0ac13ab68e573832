package io.tidesync.delta.sink;

import java.util.List;
import java.util.Optional;

/**
 * Names of the metadata columns a history table gets after the source columns.
 *
 * <p>{@link #LAKEHOUSE_SYNC} (the default) follows the Lakehouse Sync documentation:
 * {@code _change_type} ({@code insert}, {@code update_preimage}, {@code update_postimage},
 * {@code delete}), {@code _lsn} (the commit LSN as a {@code long}) and {@code _commit_timestamp}
 * (a {@code timestamp}). {@link #LAKEBASE_CDF} matches Lakebase CDF: {@code _pg_change_type},
 * {@code _pg_lsn}, {@code _pg_xid} (the Postgres transaction id, {@code long}) and
 * {@code _timestamp}.
 *
 * <p>History tables never have Delta Change Data Feed enabled: on a CDF table, columns named
 * {@code _change_type} or {@code _commit_timestamp} break Spark's {@code table_changes}.
 */
public enum HistoryNaming {
  /** {@code _change_type}, {@code _lsn}, {@code _commit_timestamp}. */
  LAKEHOUSE_SYNC("_change_type", "_lsn", null, "_commit_timestamp"),
  /** {@code _pg_change_type}, {@code _pg_lsn}, {@code _pg_xid}, {@code _timestamp}. */
  LAKEBASE_CDF("_pg_change_type", "_pg_lsn", "_pg_xid", "_timestamp");

  private final String changeType;
  private final String lsn;
  private final String xid;
  private final String timestamp;

  HistoryNaming(String changeType, String lsn, String xid, String timestamp) {
    this.changeType = changeType;
    this.lsn = lsn;
    this.xid = xid;
    this.timestamp = timestamp;
  }

  /** The string column holding the change kind. */
  public String changeTypeColumn() {
    return changeType;
  }

  /** The long column holding the commit LSN of the row's transaction. */
  public String lsnColumn() {
    return lsn;
  }

  /** The long column holding the Postgres transaction id, if this naming has one. */
  public Optional<String> xidColumn() {
    return Optional.ofNullable(xid);
  }

  /** The timestamp column holding the commit time of the row's transaction. */
  public String timestampColumn() {
    return timestamp;
  }

  /** The metadata columns in table order. */
  public List<String> columns() {
    return xid == null ? List.of(changeType, lsn, timestamp) : List.of(changeType, lsn, xid, timestamp);
  }
}
