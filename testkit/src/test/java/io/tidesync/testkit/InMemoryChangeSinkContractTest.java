package io.tidesync.testkit;

import io.tidesync.spi.ChangeSink;
import io.tidesync.spi.TableId;
import io.tidesync.spi.TableSchema;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The in-memory double meets the same contract as real sinks. */
class InMemoryChangeSinkContractTest extends ChangeSinkContract {
  private final Map<TableId, InMemoryChangeSink> sinks = new HashMap<>();

  @Override
  protected ChangeSink sinkFor(TableId table, List<String> key) {
    return sinks.computeIfAbsent(table, t -> InMemoryChangeSink.keyedBy(key.toArray(new String[0])));
  }

  @Override
  protected Map<List<Object>, Map<String, Object>> targetRows(TableId table, TableSchema schema) {
    return sinks.get(table).rows("contract");
  }
}
