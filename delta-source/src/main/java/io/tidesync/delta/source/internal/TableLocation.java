package io.tidesync.delta.source.internal;

import io.tidesync.spi.StorageLocation;
import io.tidesync.spi.TableId;

/** Table locations of the Delta source: normalization and messages ({@link StorageLocation}), and table ids. */
public final class TableLocation {
  private TableLocation() {}

  /** Why the path cannot be used, or null. Does no I/O. */
  public static String problem(String path) {
    return StorageLocation.problem("delta table path", path, "s3a://bucket/dir/table");
  }

  /** See {@link StorageLocation#normalize(String)}. */
  public static String normalize(String path) {
    return StorageLocation.normalize(path);
  }

  /** Namespace = the parent location, name = the last path segment. */
  public static TableId tableId(String location) {
    int slash = location.lastIndexOf('/');
    if (slash < 0 || slash == location.length() - 1) {
      return TableId.of("", location);
    }
    return TableId.of(location.substring(0, slash), location.substring(slash + 1));
  }
}
