package io.tidesync.postgres.sink.internal;

import io.tidesync.spi.LogicalType;

/**
 * The type mapping of ARCHITECTURE.md: the PostgreSQL type of each {@link LogicalType}, spelled as
 * {@code format_type()} prints it so that it compares directly with the catalog.
 */
public final class PgTypes {
  private PgTypes() {}

  /** The target type of a logical type, e.g. {@code numeric(12,2)}, {@code timestamp with time zone}. */
  public static String of(LogicalType t) {
    switch (t.kind()) {
      case BOOLEAN: return "boolean";
      case INT8:
      case INT16: return "smallint";
      case INT32: return "integer";
      case INT64: return "bigint";
      case FLOAT32: return "real";
      case FLOAT64: return "double precision";
      case DECIMAL: return "numeric(" + t.precision() + "," + t.scale() + ")";
      case STRING: return "text";
      case BINARY: return "bytea";
      case DATE: return "date";
      case TIMESTAMP_TZ: return "timestamp with time zone";
      case TIMESTAMP_NTZ: return "timestamp without time zone";
      case JSON: return "jsonb";
      default: throw new IllegalArgumentException("unhandled type " + t);
    }
  }

  /**
   * The type a staging column has for binary COPY: the one whose binary wire format
   * {@link PgBinaryCopyWriter} writes. Same as {@link #of} but without a numeric typmod.
   */
  public static String wire(LogicalType t) {
    return t.kind() == LogicalType.Kind.DECIMAL ? "numeric" : of(t);
  }
}
