package io.tidesync.delta.sink.internal;

import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.internal.data.GenericRow;
import io.delta.kernel.internal.util.Utils;
import io.delta.kernel.types.StringType;
import io.delta.kernel.types.StructType;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.FileStatus;
import io.tidesync.spi.Position;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;

/**
 * {@code <dir>/_tidesync/<pipeline>.snapshot}: a one-line JSON file written (atomically, through
 * the engine's JSON handler) once a pipeline's initial snapshot is committed in every table.
 */
final class SnapshotMarker {
  private static final StructType SCHEMA = new StructType()
      .add("pipeline", StringType.STRING).add("source", StringType.STRING).add("offset", StringType.STRING);

  private final Engine engine;
  private final String path;
  private final String pipeline;

  SnapshotMarker(Engine engine, String dirLocation, String pipeline) {
    this.engine = engine;
    this.path = dirLocation + "/_tidesync/" + Locations.fileSafe(pipeline) + ".snapshot";
    this.pipeline = pipeline;
  }

  String path() {
    return path;
  }

  /** The snapshot position recorded, or empty when the marker does not exist. */
  Optional<Position> read() throws IOException {
    FileStatus status;
    try {
      status = engine.getFileSystemClient().getFileStatus(path);
    } catch (FileNotFoundException e) {
      return Optional.empty();
    }
    try (CloseableIterator<ColumnarBatch> batches = engine.getJsonHandler()
        .readJsonFiles(Utils.singletonCloseableIterator(status), SCHEMA, Optional.empty())) {
      while (batches.hasNext()) {
        ColumnarBatch b = batches.next();
        if (b.getSize() > 0 && !b.getColumnVector(0).isNullAt(0)) {
          String p = b.getColumnVector(0).getString(0);
          if (!p.equals(pipeline)) {
            throw new IOException("marker " + path + " belongs to pipeline '" + p + "', not '" + pipeline + "'");
          }
          return Optional.of(new Position(b.getColumnVector(1).getString(0), b.getColumnVector(2).getString(0)));
        }
      }
    }
    throw new IOException("marker " + path + " is empty or unreadable");
  }

  void write(Position position) throws IOException {
    engine.getFileSystemClient().mkdirs(path.substring(0, path.lastIndexOf('/')));
    GenericRow row = new GenericRow(SCHEMA, Map.of(0, pipeline, 1, position.source(), 2, position.offset()));
    engine.getJsonHandler().writeJsonFileAtomically(path, Utils.singletonCloseableIterator(row), true);
  }
}
