package io.tidesync.spi;

import java.util.Objects;

/**
 * A column of a table: its name as the source spells it (case and all), its logical type, and
 * whether it may hold nulls.
 */
public record Column(String name, LogicalType type, boolean nullable) {
  public Column {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(type, "type");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("column name is empty");
    }
  }

  public static Column of(String name, LogicalType type) {
    return new Column(name, type, true);
  }
}
