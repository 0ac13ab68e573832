package io.tidesync;

/**
 * The position the sink committed can no longer be read from the source: the Delta log was
 * cleaned up past it, or the replication slot was dropped. Nothing was applied. The remedy is a
 * new snapshot, which a source does on its own only when the user opted in.
 */
public class SourcePositionLostException extends TidesyncException {
  private static final long serialVersionUID = 1L;

  public SourcePositionLostException(String message, Throwable cause) {
    super(message, cause, false);
  }
}
