package io.tidesync.postgres.source.internal;

import io.tidesync.postgres.source.internal.PgOutputMessage.*;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Decodes pgoutput messages (protocol 1 and 2). Pure: bytes in, {@link PgOutputMessage} out, no
 * server needed. Messages inside a streamed transaction (between Stream Start and Stream Stop)
 * carry an xid after the type byte: the caller says so with {@code inStream}.
 */
public final class PgOutputDecoder {
  /** Microseconds between 1970-01-01 and 2000-01-01, Postgres' timestamp epoch. */
  public static final long PG_EPOCH_MICROS = 946_684_800_000_000L;

  private PgOutputDecoder() {}

  public static PgOutputMessage decode(ByteBuffer b, boolean inStream) {
    char type = (char) b.get();
    switch (type) {
      case 'B': return new Begin(b.getLong(), b.getLong() + PG_EPOCH_MICROS, Integer.toUnsignedLong(b.getInt()));
      case 'C': return new Commit(b.get(), b.getLong(), b.getLong(), b.getLong() + PG_EPOCH_MICROS);
      case 'O': return new Origin(b.getLong(), string(b));
      case 'R': {
        long xid = xid(b, inStream);
        int relId = b.getInt();
        String ns = string(b);
        String name = string(b);
        char ident = (char) b.get();
        int n = b.getShort();
        List<RelationColumn> cols = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          int flags = b.get();
          cols.add(new RelationColumn((flags & 1) != 0, string(b), b.getInt(), b.getInt()));
        }
        return new Relation(xid, relId, ns.isEmpty() ? "pg_catalog" : ns, name, ident, List.copyOf(cols));
      }
      case 'Y': {
        long xid = xid(b, inStream);
        return new Type(xid, b.getInt(), string(b), string(b));
      }
      case 'I': {
        long xid = xid(b, inStream);
        int relId = b.getInt();
        expect(b, 'N');
        return new Insert(xid, relId, tuple(b));
      }
      case 'U': {
        long xid = xid(b, inStream);
        int relId = b.getInt();
        char k = (char) b.get();
        Tuple old = null;
        char oldKind = 0;
        if (k == 'K' || k == 'O') {
          oldKind = k;
          old = tuple(b);
          k = (char) b.get();
        }
        if (k != 'N') {
          throw new IllegalArgumentException("update message: expected 'N', got '" + k + "'");
        }
        return new Update(xid, relId, oldKind, old, tuple(b));
      }
      case 'D': {
        long xid = xid(b, inStream);
        int relId = b.getInt();
        char k = (char) b.get();
        return new Delete(xid, relId, k, tuple(b));
      }
      case 'T': {
        long xid = xid(b, inStream);
        int n = b.getInt();
        int options = b.get();
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
          ids[i] = b.getInt();
        }
        return new Truncate(xid, options, ids);
      }
      case 'M': {
        long xid = xid(b, inStream);
        boolean transactional = (b.get() & 1) != 0;
        long lsn = b.getLong();
        String prefix = string(b);
        byte[] content = new byte[b.getInt()];
        b.get(content);
        return new LogicalMessage(xid, transactional, lsn, prefix, content);
      }
      case 'S': return new StreamStart(Integer.toUnsignedLong(b.getInt()), b.get() == 1);
      case 'E': return new StreamStop();
      case 'c': return new StreamCommit(Integer.toUnsignedLong(b.getInt()), b.get(), b.getLong(), b.getLong(),
          b.getLong() + PG_EPOCH_MICROS);
      case 'A': return new StreamAbort(Integer.toUnsignedLong(b.getInt()), Integer.toUnsignedLong(b.getInt()));
      default: throw new IllegalArgumentException("unknown pgoutput message type '" + type + "' (" + (int) type + ")");
    }
  }

  private static long xid(ByteBuffer b, boolean inStream) {
    return inStream ? Integer.toUnsignedLong(b.getInt()) : 0;
  }

  private static void expect(ByteBuffer b, char c) {
    char got = (char) b.get();
    if (got != c) {
      throw new IllegalArgumentException("expected '" + c + "', got '" + got + "'");
    }
  }

  private static Tuple tuple(ByteBuffer b) {
    int n = b.getShort();
    byte[] kinds = new byte[n];
    byte[][] values = new byte[n][];
    for (int i = 0; i < n; i++) {
      byte k = b.get();
      kinds[i] = k;
      if (k == 't' || k == 'b') {
        byte[] v = new byte[b.getInt()];
        b.get(v);
        values[i] = v;
        if (k == 'b') {
          throw new IllegalArgumentException("binary tuple values are not supported (binary option is off)");
        }
      } else if (k != 'n' && k != 'u') {
        throw new IllegalArgumentException("unknown tuple value kind '" + (char) k + "'");
      }
    }
    return new Tuple(kinds, values);
  }

  private static String string(ByteBuffer b) {
    int start = b.position();
    int end = start;
    while (b.get(end) != 0) {
      end++;
    }
    byte[] bytes = new byte[end - start];
    b.get(bytes);
    b.get();
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
