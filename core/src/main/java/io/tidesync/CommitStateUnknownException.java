package io.tidesync;

/**
 * The connection broke while a commit was in flight: the batch may or may not be durable. Safe
 * to resolve by restarting the pipeline, which reads the committed position back from the sink.
 */
public class CommitStateUnknownException extends TidesyncException {
  private static final long serialVersionUID = 1L;

  public CommitStateUnknownException(String message, Throwable cause) {
    super(message, cause, true);
  }
}
