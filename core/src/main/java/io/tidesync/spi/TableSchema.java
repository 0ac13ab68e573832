package io.tidesync.spi;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The columns of a table in order, and its primary key when the source knows one (Postgres does,
 * Delta does not: Delta-sourced pipelines take the key from the sink's configuration).
 */
public final class TableSchema {
  private final List<Column> columns;
  private final List<String> primaryKey;
  private final Map<String, Integer> indexByName;

  private TableSchema(List<Column> columns, List<String> primaryKey) {
    this.columns = List.copyOf(columns);
    this.primaryKey = List.copyOf(primaryKey);
    this.indexByName = new HashMap<>();
    for (int i = 0; i < this.columns.size(); i++) {
      if (indexByName.put(this.columns.get(i).name(), i) != null) {
        throw new IllegalArgumentException("duplicate column name '" + this.columns.get(i).name() + "'");
      }
    }
    for (String k : this.primaryKey) {
      if (!indexByName.containsKey(k)) {
        throw new IllegalArgumentException("primary key column '" + k + "' is not a column of " + names());
      }
    }
  }

  public static TableSchema of(List<Column> columns) {
    return new TableSchema(columns, List.of());
  }

  public static TableSchema of(List<Column> columns, List<String> primaryKey) {
    return new TableSchema(columns, primaryKey);
  }

  /** This schema with another primary key. */
  public TableSchema withPrimaryKey(List<String> key) {
    return new TableSchema(columns, key);
  }

  public List<Column> columns() {
    return columns;
  }

  public List<String> primaryKey() {
    return primaryKey;
  }

  public int size() {
    return columns.size();
  }

  public Column column(int index) {
    return columns.get(index);
  }

  /** Index of the column with exactly this name, or -1. */
  public int indexOf(String name) {
    Integer i = indexByName.get(name);
    return i == null ? -1 : i;
  }

  public Optional<Column> column(String name) {
    int i = indexOf(name);
    return i < 0 ? Optional.empty() : Optional.of(columns.get(i));
  }

  public List<String> names() {
    List<String> out = new ArrayList<>(columns.size());
    for (Column c : columns) {
      out.add(c.name());
    }
    return out;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TableSchema other && columns.equals(other.columns) && primaryKey.equals(other.primaryKey);
  }

  @Override
  public int hashCode() {
    return columns.hashCode() * 31 + primaryKey.hashCode();
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("(");
    for (int i = 0; i < columns.size(); i++) {
      Column c = columns.get(i);
      sb.append(i == 0 ? "" : ", ").append(c.name()).append(' ').append(c.type()).append(c.nullable() ? "" : " not null");
    }
    sb.append(')');
    if (!primaryKey.isEmpty()) {
      sb.append(" primary key ").append(primaryKey);
    }
    return sb.toString();
  }
}
