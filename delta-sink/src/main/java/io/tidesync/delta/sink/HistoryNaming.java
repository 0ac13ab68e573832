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
 * <p>Both add a sequence column last ({@code _seq} / {@code _pg_seq}, a {@code long}): the
 * position of the change within its transaction in the table, counting from 0 in WAL order. With
 * the LSN it orders every change of a row, also when one transaction changed the row twice.
 *
 * <p>History tables never have Delta Change Data Feed enabled: on a CDF table, columns named
 * {@code _change_type} or {@code _commit_timestamp} break Spark's {@code table_changes}.
 */
public enum HistoryNaming {
  /** {@code _change_type}, {@code _lsn}, {@code _commit_timestamp}. */
  LAKEHOUSE_SYNC("_change_type", "_lsn", null, "_commit_timestamp", "_seq"),
  /** {@code _pg_change_type}, {@code _pg_lsn}, {@code _pg_xid}, {@code _timestamp}, {@code _pg_seq}. */
  LAKEBASE_CDF("_pg_change_type", "_pg_lsn", "_pg_xid", "_timestamp", "_pg_seq");

  private final String changeType;
  private final String lsn;
  private final String xid;
  private final String timestamp;
  private final String seq;

  HistoryNaming(String changeType, String lsn, String xid, String timestamp, String seq) {
    this.seq = seq;
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

  /** The long column holding the change's position within its transaction (0, 1, ..., in WAL order). */
  public String sequenceColumn() {
    return seq;
  }

  /** The metadata columns in table order. */
  public List<String> columns() {
    return xid == null ? List.of(changeType, lsn, timestamp, seq) : List.of(changeType, lsn, xid, timestamp, seq);
  }
}
