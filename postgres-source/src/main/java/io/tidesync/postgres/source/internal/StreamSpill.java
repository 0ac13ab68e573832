package io.tidesync.postgres.source.internal;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The changes of one streamed (protocol 2, in-progress) transaction, kept in a temporary file
 * until its Stream Commit, so that memory stays bounded whatever the transaction's size. Records
 * are the raw pgoutput messages, length-prefixed; aborted subtransactions are remembered and
 * skipped on replay.
 */
final class StreamSpill implements AutoCloseable {
  private final long xid;
  private final Path file;
  private final DataOutputStream out;
  private final Set<Long> abortedSubXids = new HashSet<>();
  private long records;

  StreamSpill(long xid) {
    this.xid = xid;
    try {
      this.file = Files.createTempFile("tidesync-xid" + xid + "-", ".spill");
      this.out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 16));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a spill file for streamed transaction " + xid, e);
    }
  }

  long xid() {
    return xid;
  }

  long records() {
    return records;
  }

  void append(ByteBuffer message) {
    try {
      out.writeInt(message.remaining());
      if (message.hasArray()) {
        out.write(message.array(), message.arrayOffset() + message.position(), message.remaining());
      } else {
        byte[] b = new byte[message.remaining()];
        message.duplicate().get(b);
        out.write(b);
      }
      records++;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the spill file " + file, e);
    }
  }

  void abortSubtransaction(long subXid) {
    abortedSubXids.add(subXid);
  }

  boolean isAborted(long subXid) {
    return abortedSubXids.contains(subXid);
  }

  /** Hands every record, in order, to {@code consumer}. */
  void replay(Consumer<ByteBuffer> consumer) {
    try {
      out.flush();
      try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
        while (true) {
          int len;
          try {
            len = in.readInt();
          } catch (EOFException end) {
            return;
          }
          byte[] b = new byte[len];
          in.readFully(b);
          consumer.accept(ByteBuffer.wrap(b));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the spill file " + file, e);
    }
  }

  @Override
  public void close() {
    try {
      out.close();
    } catch (IOException e) {
      // deleting anyway
    }
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      // a temp file left behind
    }
  }
}
