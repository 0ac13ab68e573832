package io.tidesync.postgres.source;

import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeApplier;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.ChangeSink;
import io.tidesync.spi.Position;
import io.tidesync.spi.SinkContext;
import io.tidesync.spi.TableId;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Test sink: records every batch and row; its committed position is the last complete batch's end. */
final class CollectingSink implements ChangeSink {
  record Row(TableId table, ChangeKind kind, long lsn, long xid, Map<String, Object> values) {}

  record Received(TableId table, BatchType type, boolean partial, boolean lastOfSnapshot, Position end, int rows) {}

  final List<Received> batches = Collections.synchronizedList(new ArrayList<>());
  final List<Row> rows = Collections.synchronizedList(new ArrayList<>());
  volatile Position committed;

  @Override
  public List<String> validate() {
    return List.of();
  }

  @Override
  public String describe() {
    return "collecting sink";
  }

  List<Row> rows(String table, ChangeKind... kinds) {
    List<ChangeKind> k = List.of(kinds);
    return rows.stream().filter(r -> r.table().name().equals(table) && (k.isEmpty() || k.contains(r.kind()))).toList();
  }

  List<Row> changeRows() {
    return rows.stream().filter(r -> r.xid() != -1).toList();
  }

  @Override
  public ChangeApplier open(SinkContext context) {
    return new ChangeApplier() {
      @Override
      public Optional<Position> committedPosition() {
        return Optional.ofNullable(committed);
      }

      @Override
      public ApplyResult apply(ChangeBatch batch) {
        record(batch);
        if (!batch.isPartial()) {
          committed = batch.endPosition();
        }
        return new ApplyResult(batch.rowCount(), 0, 0, 0);
      }

      @Override
      public void close() {}
    };
  }

  void record(ChangeBatch batch) {
    batches.add(new Received(batch.table(), batch.type(), batch.isPartial(), batch.lastOfSnapshot(),
        batch.endPosition(), batch.rowCount()));
    for (int r = 0; r < batch.rowCount(); r++) {
      Map<String, Object> m = new LinkedHashMap<>();
      for (int c = 0; c < batch.schema().size(); c++) {
        m.put(batch.schema().column(c).name(), batch.value(c, r));
      }
      rows.add(new Row(batch.table(), batch.kind(r), batch.commitVersion(r), batch.transactionId(r), m));
    }
  }
}
