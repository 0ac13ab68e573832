package io.tidesync;

/** How a pipeline moves data, as Lakebase synced tables define the modes. */
public enum SyncMode {
  /** A full copy of the source at one position, swapped in atomically; every run copies again. */
  SNAPSHOT,
  /** One run from the committed position to the latest; the first run of a pipeline snapshots. */
  TRIGGERED,
  /** TRIGGERED in a loop: polls for new changes at an interval until closed. */
  CONTINUOUS
}
