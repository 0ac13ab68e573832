package io.tidesync.delta.sink;

import io.delta.kernel.engine.Engine;
import io.tidesync.testkit.delta.DeltaTableWriter;

final class DeltaHistorySinkTestEngine {
  static final Engine ENGINE = DeltaTableWriter.localEngine();

  private DeltaHistorySinkTestEngine() {}
}
