package io.tidesync.delta.sink.internal;

import io.tidesync.spi.StorageLocation;

/** The history directory's location ({@link StorageLocation}) and file names derived from pipeline names. */
public final class Locations {
  private Locations() {}

  /** Why the path cannot be used, or null. No I/O. */
  public static String problem(String path) {
    return StorageLocation.problem("history directory", path, "s3a://bucket/bronze");
  }

  /** See {@link StorageLocation#normalize(String)}. */
  public static String normalize(String path) {
    return StorageLocation.normalize(path);
  }

  /** A pipeline name made safe for a file name: characters other than letters, digits, '.', '_', '-' become '_'. */
  public static String fileSafe(String name) {
    return name.replaceAll("[^A-Za-z0-9._-]", "_");
  }
}
