package io.tidesync.delta.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.tidesync.InvalidSourceDataException;
import io.tidesync.SyncMode;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeReader;
import io.tidesync.spi.Position;
import io.tidesync.spi.ReadRequest;
import io.tidesync.spi.SourceContext;
import io.tidesync.testkit.fixtures.DeltaFixture;
import io.tidesync.testkit.fixtures.DeltaFixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroup;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.MessageType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A change data file whose {@code _change_type} holds a value the Delta protocol does not define
 * stops the read with an {@link InvalidSourceDataException} naming the table, the version, the
 * file and the value. The table is a copy of the Spark-written {@code key_changes} fixture whose
 * version 2 change file is rewritten with {@code update_pre} instead of {@code update_preimage}.
 */
class InvalidChangeTypeIT {
  private static final Pattern CDC = Pattern.compile("\"cdc\":\\{\"path\":\"([^\"]+)\"[^\\n]*?\"size\":(\\d+)");

  @TempDir
  Path tmp;

  @Test
  void aChangeTypeOutsideTheDeltaProtocolNamesTableVersionFileAndValue() throws Exception {
    DeltaFixture fixture = DeltaFixtures.get("key_changes");
    Path table = fixture.copyTo(tmp, 2);
    Path commit = table.resolve("_delta_log").resolve(String.format("%020d.json", 2));
    String log = Files.readString(commit);
    Matcher m = CDC.matcher(log);
    assertThat(m.find()).as("version 2 has a change data file").isTrue();
    String cdcPath = m.group(1);
    long newSize = rewriteChangeTypes(table.resolve(cdcPath), "update_preimage", "update_pre");
    Files.writeString(commit, log.substring(0, m.start(2)) + newSize + log.substring(m.end(2)));

    DeltaChangeSource src = DeltaChangeSource.forPath(table.toString());
    try (RootAllocator allocator = new RootAllocator(64 << 20);
        ChangeReader reader = src.open(new ReadRequest(SyncMode.TRIGGERED, Optional.of(new Position(src.location(), "1"))),
            new SourceContext("p", allocator, 1000, Long.MAX_VALUE))) {
      InvalidSourceDataException e = catchThrowableOfType(InvalidSourceDataException.class, () -> {
        try (ChangeBatch b = reader.poll()) {
          assertThat(b).as("no batch of version 2 is handed over").isNull();
        }
      });
      assertThat(e).isNotNull();
      assertThat(e.isRetryable()).isFalse();
      assertThat(e).hasMessage(src.location() + ": cannot read the changes of version 2: the change data file "
          + src.location() + "/" + cdcPath + " holds the _change_type 'update_pre', which the Delta protocol does not"
          + " define (it defines insert, update_preimage, update_postimage, delete). Fix the program that wrote the table"
          + " and rewrite this file; the pipeline resumes from its last committed position");
    }
  }

  /** Rewrites a Parquet file with {@code from} replaced by {@code to} in {@code _change_type}; returns its new size. */
  private static long rewriteChangeTypes(Path file, String from, String to) throws IOException {
    Configuration conf = new Configuration();
    org.apache.hadoop.fs.Path in = new org.apache.hadoop.fs.Path(file.toUri());
    MessageType schema;
    try (ParquetFileReader r = ParquetFileReader.open(HadoopInputFile.fromPath(in, conf))) {
      schema = r.getFooter().getFileMetaData().getSchema();
    }
    List<Group> rows = new ArrayList<>();
    try (ParquetReader<Group> r = ParquetReader.builder(new GroupReadSupport(), in).withConf(conf).build()) {
      for (Group g = r.read(); g != null; g = r.read()) {
        rows.add(g);
      }
    }
    int replaced = 0;
    Path out = file.resolveSibling("rewritten.parquet");
    try (ParquetWriter<Group> w = ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(out.toUri()))
        .withConf(conf).withType(schema).withCompressionCodec(CompressionCodecName.SNAPPY).build()) {
      for (Group g : rows) {
        SimpleGroup copy = new SimpleGroup(schema);
        for (int i = 0; i < schema.getFieldCount(); i++) {
          if (g.getFieldRepetitionCount(i) == 0) {
            continue; // null
          }
          Object v = ((SimpleGroup) g).getObject(i, 0);
          if (schema.getFieldName(i).equals("_change_type") && g.getString(i, 0).equals(from)) {
            v = Binary.fromString(to);
            replaced++;
          }
          if (v instanceof Binary b) {
            copy.add(i, b);
          } else if (v instanceof Long l) {
            copy.add(i, l);
          } else if (v instanceof Integer n) {
            copy.add(i, n);
          } else {
            throw new IllegalStateException("unexpected value type " + v.getClass() + " in " + file);
          }
        }
        w.write(copy);
      }
    }
    assertThat(replaced).as("rows with _change_type %s", from).isPositive();
    Files.move(out, file, StandardCopyOption.REPLACE_EXISTING);
    return Files.size(file);
  }
}
