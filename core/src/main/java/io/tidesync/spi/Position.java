package io.tidesync.spi;

import java.util.Objects;

/**
 * A point in a source's change stream, opaque to everything but the source that made it.
 *
 * <p>{@code source} identifies the stream (a Delta table location, a replication slot) so that a
 * sink's stored position is never applied to a different source; {@code offset} is the source's
 * own encoding (a Delta commit version, a Postgres LSN). Sinks store both as text, atomically
 * with the data, and hand them back unchanged.
 *
 * @param source identity of the stream the offset belongs to
 * @param offset the source's encoding of "everything up to here"
 */
public record Position(String source, String offset) {
  public Position {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(offset, "offset");
  }

  /** A position whose offset is a number, such as a Delta commit version. */
  public static Position of(String source, long offset) {
    return new Position(source, Long.toString(offset));
  }

  /** The offset read as a number; fails with a clear message if it is not one. */
  public long offsetAsLong() {
    try {
      return Long.parseLong(offset);
    } catch (NumberFormatException e) {
      throw new IllegalStateException("position offset '" + offset + "' of " + source + " is not a number", e);
    }
  }

  @Override
  public String toString() {
    return source + "@" + offset;
  }
}
