package io.tidesync.spi;

import java.util.Objects;

/**
 * The logical type of a column, independent of source and sink. Each kind has one in-memory Arrow
 * representation and one canonical Java value (see {@link ChangeBatch#value(int, int)}).
 *
 * <p>Nested source types (arrays, maps, structs) travel as {@link Kind#JSON} text; {@code
 * sourceType} keeps the source's own type name for messages and DDL comments.
 *
 * @param kind the kind
 * @param precision decimal precision, otherwise 0
 * @param scale decimal scale, otherwise 0
 * @param sourceType the source's name for the type, e.g. {@code array<int>}; never null
 */
public record LogicalType(Kind kind, int precision, int scale, String sourceType) {

  /** Kinds of logical types, with their canonical Java value class. */
  public enum Kind {
    /** {@link Boolean}. */ BOOLEAN,
    /** {@link Byte}. */ INT8,
    /** {@link Short}. */ INT16,
    /** {@link Integer}. */ INT32,
    /** {@link Long}. */ INT64,
    /** {@link Float}. */ FLOAT32,
    /** {@link Double}. */ FLOAT64,
    /** {@link java.math.BigDecimal} with the type's scale. */ DECIMAL,
    /** {@link String}. */ STRING,
    /** {@code byte[]}. */ BINARY,
    /** {@link java.time.LocalDate}. */ DATE,
    /** {@link java.time.Instant}, microsecond precision. */ TIMESTAMP_TZ,
    /** {@link java.time.LocalDateTime}, microsecond precision. */ TIMESTAMP_NTZ,
    /** {@link String} holding a JSON document. */ JSON
  }

  public LogicalType {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(sourceType, "sourceType");
    if (kind == Kind.DECIMAL && (precision < 1 || precision > 38 || scale < 0 || scale > precision)) {
      throw new IllegalArgumentException("decimal(" + precision + "," + scale + ") is out of range: precision 1..38, scale 0..precision");
    }
  }

  public static LogicalType of(Kind kind) {
    if (kind == Kind.DECIMAL) {
      throw new IllegalArgumentException("use LogicalType.decimal(precision, scale)");
    }
    return new LogicalType(kind, 0, 0, kind.name().toLowerCase(java.util.Locale.ROOT));
  }

  public static LogicalType decimal(int precision, int scale) {
    return new LogicalType(Kind.DECIMAL, precision, scale, "decimal(" + precision + "," + scale + ")");
  }

  /** A nested source type carried as JSON text. */
  public static LogicalType json(String sourceType) {
    return new LogicalType(Kind.JSON, 0, 0, sourceType);
  }

  /** Same kind and parameters (the source's spelling of the type is ignored). */
  public boolean sameAs(LogicalType other) {
    return kind == other.kind && precision == other.precision && scale == other.scale;
  }

  @Override
  public String toString() {
    return sourceType;
  }
}
