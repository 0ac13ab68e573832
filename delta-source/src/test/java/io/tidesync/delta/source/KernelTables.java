package io.tidesync.delta.source;

import io.delta.kernel.engine.Engine;
import io.delta.kernel.expressions.Literal;
import io.delta.kernel.types.StructType;
import io.tidesync.delta.source.internal.KernelTable;
import io.tidesync.testkit.delta.internal.KernelWrites;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Writes small Delta tables with Kernel for tests, with Kernel schemas and values (nested types
 * included): a thin face over testkit's {@link KernelWrites}, where the write logic lives (tests
 * with flat schemas can use {@link io.tidesync.testkit.delta.DeltaTableWriter}).
 */
final class KernelTables {
  static final Engine ENGINE = KernelTable.defaultEngine(Map.of());

  private KernelTables() {}

  static long create(Path dir, StructType schema, Map<String, String> properties, List<String> partitionColumns) {
    return KernelWrites.create(ENGINE, dir, schema, properties, partitionColumns);
  }

  static long createWithCdf(Path dir, StructType schema) {
    return create(dir, schema, Map.of("delta.enableChangeDataFeed", "true"), List.of());
  }

  /** Appends rows (one Object[] per row, schema order, Kernel values) as one file in one commit. */
  static long append(Path dir, List<Object[]> rows) {
    return append(dir, rows, Map.of());
  }

  static long append(Path dir, List<Object[]> rows, Map<String, Literal> partitionValues) {
    KernelWrites.Chunk[] once = {new KernelWrites.Chunk(rows, partitionValues)};
    return KernelWrites.append(ENGINE, dir, () -> {
      KernelWrites.Chunk c = once[0];
      once[0] = null;
      return c;
    });
  }

  /** Commits a remove (dataChange=true) of every live file whose path contains {@code fragment} (or all if null). */
  static long removeFiles(Path dir, String fragment) {
    return KernelWrites.removeFiles(ENGINE, dir, fragment);
  }

  static long setProperties(Path dir, Map<String, String> props) {
    return KernelWrites.setProperties(ENGINE, dir, props);
  }

  static void checkpoint(Path dir) {
    KernelWrites.checkpoint(ENGINE, dir);
  }
}
