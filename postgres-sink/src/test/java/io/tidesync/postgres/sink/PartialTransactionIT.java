package io.tidesync.postgres.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidesync.ApplyFailedException;
import io.tidesync.SyncMode;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.Position;
import io.tidesync.spi.SinkContext;
import io.tidesync.spi.TableId;
import io.tidesync.spi.TableSchema;
import io.tidesync.testkit.PostgresExtension;
import io.tidesync.testkit.TestPostgres;
import java.util.List;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** A batch holding part of a source transaction is refused clearly, with nothing written. */
@ExtendWith(PostgresExtension.class)
class PartialTransactionIT {
  @Test
  void partialTransactionBatchesAreRefused(TestPostgres pg) {
    TableSchema schema = TableSchema.of(List.of(new Column("id", LogicalType.of(LogicalType.Kind.INT64), false)));
    try (RootAllocator allocator = new RootAllocator(1 << 20);
        ChangeApplier a = PostgresSink.forTable("public.partial").dataSource(pg.dataSource()).primaryKey("id")
            .open(new SinkContext("partial", SyncMode.CONTINUOUS, "pg"))) {
      ChangeBatchBuilder b = new ChangeBatchBuilder(allocator, TableId.of("public", "src"), schema);
      b.startRow(ChangeKind.INSERT, 10, 0, 5);
      b.set(0, 1L);
      try (ChangeBatch batch = b.buildPartialTransaction(Position.of("pg", 10))) {
        assertThatThrownBy(() -> a.apply(batch)).isInstanceOf(ApplyFailedException.class)
            .hasMessageStartingWith("partial: cannot apply changes to public.partial: the batch holds only part of a source transaction")
            .hasMessageEndingWith("Raise the pipeline's maxBatchRows/maxBatchBytes above the largest source transaction");
      }
      assertThat(a.committedPosition()).isEmpty();
    }
  }
}
