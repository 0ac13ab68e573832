package io.tidesync;

/**
 * Rows the target cannot accept as they are: two different images for one primary key in one
 * commit, a string with a NUL byte, a value out of the target type's range; or change rows a
 * source cannot read as the table format defines them (a {@code _change_type} outside the Delta
 * protocol). The message names the table and what is wrong where (column and key, or version and
 * file). Not retryable: the data must be fixed. The batch was not applied; nothing was lost.
 */
public class InvalidSourceDataException extends TidesyncException {
  private static final long serialVersionUID = 1L;

  public InvalidSourceDataException(String message) {
    super(message);
  }
}
