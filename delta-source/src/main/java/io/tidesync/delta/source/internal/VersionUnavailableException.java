package io.tidesync.delta.source.internal;

/** Kernel could not find or reconstruct a table version (log cleaned up). Internal; mapped by the reader. */
final class VersionUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final long version;

  VersionUnavailableException(long version, Throwable cause) {
    super("version " + version + " is not available: " + cause.getMessage(), cause);
    this.version = version;
  }

  long version() {
    return version;
  }
}
