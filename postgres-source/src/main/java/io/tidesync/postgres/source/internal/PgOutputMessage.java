package io.tidesync.postgres.source.internal;

import java.util.List;

/**
 * The pgoutput logical replication messages (protocol 1 and 2), as {@link PgOutputDecoder} reads
 * them. LSNs are longs; timestamps are microseconds since the Unix epoch; {@code xid} is 0 unless
 * the message came inside a streamed transaction.
 */
public sealed interface PgOutputMessage {

  /** Text ('t'), null ('n') or unchanged TOAST ('u') per column; {@code values[i]} is UTF-8 text or null. */
  record Tuple(byte[] kinds, byte[][] values) {
    public static final byte TEXT = 't';
    public static final byte NULL = 'n';
    public static final byte UNCHANGED_TOAST = 'u';

    public int size() {
      return kinds.length;
    }
  }

  /** A column of a Relation message. */
  record RelationColumn(boolean key, String name, int typeOid, int typmod) {}

  record Begin(long finalLsn, long commitTimeMicros, long xid) implements PgOutputMessage {}

  record Commit(int flags, long commitLsn, long endLsn, long commitTimeMicros) implements PgOutputMessage {}

  record Origin(long commitLsn, String name) implements PgOutputMessage {}

  record Relation(long xid, int relationId, String namespace, String name, char replicaIdentity,
      List<RelationColumn> columns) implements PgOutputMessage {}

  record Type(long xid, int typeOid, String namespace, String name) implements PgOutputMessage {}

  record Insert(long xid, int relationId, Tuple newTuple) implements PgOutputMessage {}

  /** {@code oldKind} is 'O' (old row, replica identity FULL), 'K' (key only) or 0 (none sent). */
  record Update(long xid, int relationId, char oldKind, Tuple oldTuple, Tuple newTuple) implements PgOutputMessage {}

  record Delete(long xid, int relationId, char oldKind, Tuple oldTuple) implements PgOutputMessage {}

  record Truncate(long xid, int options, int[] relationIds) implements PgOutputMessage {}

  record LogicalMessage(long xid, boolean transactional, long lsn, String prefix, byte[] content)
      implements PgOutputMessage {}

  record StreamStart(long xid, boolean firstSegment) implements PgOutputMessage {}

  record StreamStop() implements PgOutputMessage {}

  record StreamCommit(long xid, int flags, long commitLsn, long endLsn, long commitTimeMicros)
      implements PgOutputMessage {}

  record StreamAbort(long xid, long subXid) implements PgOutputMessage {}

  /** The xid carried by a change inside a streamed transaction (0 outside one). */
  default long changeXid() {
    if (this instanceof Insert m) {
      return m.xid();
    } else if (this instanceof Update m) {
      return m.xid();
    } else if (this instanceof Delete m) {
      return m.xid();
    } else if (this instanceof Truncate m) {
      return m.xid();
    }
    return 0;
  }
}
