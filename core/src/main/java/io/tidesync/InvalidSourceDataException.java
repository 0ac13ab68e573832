package io.tidesync;

/**
 * Rows the target cannot accept as they are: two different images for one primary key in one
 * commit, a string with a NUL byte, a value out of the target type's range. The message names
 * the table, the column and the key. The batch was not applied; nothing was lost.
 */
public class InvalidSourceDataException extends TidesyncException {
  private static final long serialVersionUID = 1L;

  public InvalidSourceDataException(String message) {
    super(message);
  }
}
