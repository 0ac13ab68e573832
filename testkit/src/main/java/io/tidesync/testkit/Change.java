package io.tidesync.testkit;

import io.tidesync.spi.ChangeKind;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One row change for {@link InMemoryChangeSource}: a kind and the row image as column name to
 * canonical value (see {@link io.tidesync.spi.LogicalType.Kind}).
 */
public record Change(ChangeKind kind, Map<String, Object> row) {
  public Change {
    Objects.requireNonNull(kind, "kind");
    row = Collections.unmodifiableMap(new LinkedHashMap<>(row));
  }

  public static Change insert(Map<String, Object> row) {
    return new Change(ChangeKind.INSERT, row);
  }

  /** An update as Delta's Change Data Feed has it: the post-image (pre-images are optional). */
  public static Change update(Map<String, Object> row) {
    return new Change(ChangeKind.UPDATE_POSTIMAGE, row);
  }

  public static Change delete(Map<String, Object> row) {
    return new Change(ChangeKind.DELETE, row);
  }

  /** A row from alternating names and values: {@code row("id", 1L, "name", "a")}. */
  public static Map<String, Object> row(Object... namesAndValues) {
    if (namesAndValues.length % 2 != 0) {
      throw new IllegalArgumentException("row(..) takes name, value pairs");
    }
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < namesAndValues.length; i += 2) {
      m.put((String) namesAndValues[i], namesAndValues[i + 1]);
    }
    return m;
  }
}
