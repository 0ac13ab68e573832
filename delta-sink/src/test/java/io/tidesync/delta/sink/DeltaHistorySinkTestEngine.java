package io.tidesync.delta.sink;

import io.delta.kernel.defaults.engine.DefaultEngine;
import io.delta.kernel.engine.Engine;

final class DeltaHistorySinkTestEngine {
  static final Engine ENGINE;

  static {
    org.apache.hadoop.conf.Configuration hc = new org.apache.hadoop.conf.Configuration();
    hc.set("fs.file.impl", "org.apache.hadoop.fs.RawLocalFileSystem");
    hc.setBoolean("fs.file.impl.disable.cache", true);
    ENGINE = DefaultEngine.create(hc);
  }

  private DeltaHistorySinkTestEngine() {}
}
