package io.tidesync;

/**
 * The source schema changed in a way the target cannot follow on its own (a dropped, renamed or
 * retyped column, a different primary key). The message names the column and the remedy.
 */
public class SchemaMismatchException extends TidesyncException {
  private static final long serialVersionUID = 1L;

  public SchemaMismatchException(String message) {
    super(message);
  }
}
