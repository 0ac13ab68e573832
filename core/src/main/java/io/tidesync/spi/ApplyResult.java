package io.tidesync.spi;

/**
 * What one batch did to the target.
 *
 * @param inserted rows that did not exist before
 * @param updated rows that existed and were changed
 * @param deleted rows removed
 * @param skipped rows not applied on purpose (a null primary key), counted so they are not lost
 *     silently
 */
public record ApplyResult(long inserted, long updated, long deleted, long skipped) {
  public static final ApplyResult NONE = new ApplyResult(0, 0, 0, 0);

  public ApplyResult plus(ApplyResult o) {
    return new ApplyResult(inserted + o.inserted, updated + o.updated, deleted + o.deleted, skipped + o.skipped);
  }
}
