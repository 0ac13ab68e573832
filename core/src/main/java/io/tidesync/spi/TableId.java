package io.tidesync.spi;

import java.util.Objects;

/**
 * Identity of a source table: a namespace (Postgres schema, or the directory of a Delta table)
 * and a name. Sinks map it to a target object.
 */
public record TableId(String namespace, String name) {
  public TableId {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
  }

  public static TableId of(String namespace, String name) {
    return new TableId(namespace, name);
  }

  @Override
  public String toString() {
    return namespace.isEmpty() ? name : namespace + "." + name;
  }
}
