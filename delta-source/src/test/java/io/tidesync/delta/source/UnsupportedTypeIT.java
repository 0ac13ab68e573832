package io.tidesync.delta.source;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidesync.ConfigurationException;
import io.tidesync.SyncMode;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SourceContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A column type Tidesync cannot carry stops the read with an error naming table, column and type. */
class UnsupportedTypeIT {
  @TempDir
  Path dir;

  @Test
  void variantColumnIsAClearConfigurationError() throws Exception {
    Path log = Files.createDirectories(dir.resolve("t").resolve("_delta_log"));
    String schema = "{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":[{\\\"name\\\":\\\"id\\\",\\\"type\\\":\\\"long\\\","
        + "\\\"nullable\\\":true,\\\"metadata\\\":{}},{\\\"name\\\":\\\"payload\\\",\\\"type\\\":\\\"variant\\\","
        + "\\\"nullable\\\":true,\\\"metadata\\\":{}}]}";
    Files.writeString(log.resolve("00000000000000000000.json"), String.join("\n",
        "{\"commitInfo\":{\"timestamp\":1700000000000,\"operation\":\"CREATE TABLE\",\"operationParameters\":{}}}",
        "{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,\"readerFeatures\":[\"variantType\"],"
            + "\"writerFeatures\":[\"variantType\"]}}",
        "{\"metaData\":{\"id\":\"9f3b1f0e-1a4b-4c55-9d52-5f0a3b2c1d00\",\"format\":{\"provider\":\"parquet\",\"options\":{}},"
            + "\"schemaString\":\"" + schema + "\",\"partitionColumns\":[],"
            + "\"configuration\":{\"delta.enableChangeDataFeed\":\"true\"},\"createdTime\":1700000000000}}") + "\n");
    DeltaChangeSource src = DeltaChangeSource.forPath(dir.resolve("t").toString());
    try (RootAllocator allocator = new RootAllocator(16 << 20)) {
      assertThatThrownBy(() -> src.open(new ReadRequest(SyncMode.SNAPSHOT, Optional.empty()),
              new SourceContext("p", allocator, 100, 1 << 20)).poll())
          .isInstanceOf(ConfigurationException.class)
          .hasMessageStartingWith(src.location() + ": cannot read column 'payload' of type variant at version 0: "
              + "the type is not supported (")
          .hasMessageEndingWith("). Drop or cast the column in the source table, or read a view without it");
    }
  }
}
