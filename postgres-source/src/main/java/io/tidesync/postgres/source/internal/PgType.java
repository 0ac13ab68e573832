package io.tidesync.postgres.source.internal;

import io.tidesync.spi.LogicalType;
import io.tidesync.spi.LogicalType.Kind;

/**
 * A supported Postgres column type: how its text output is parsed ({@link Parse}) and the logical
 * type it is carried as. Arrays carry their element type.
 *
 * @param sqlName the type as {@code format_type} prints it, for messages
 * @param parse how text values are read
 * @param logical the logical type of the column
 * @param element for arrays, the element type; otherwise null
 */
public record PgType(String sqlName, Parse parse, LogicalType logical, PgType element) {

  /** Text parsing rules, one per group of Postgres types. */
  public enum Parse { BOOL, INT2, INT4, INT8, DECIMAL, NUMERIC_TEXT, FLOAT4, FLOAT8, TEXT, JSON, BYTEA, DATE, TIME,
    TIMESTAMP, TIMESTAMPTZ, ARRAY }

  /**
   * Resolves a column type from catalog facts, or returns null when it is not supported.
   *
   * @param typname {@code pg_type.typname}
   * @param typtype {@code pg_type.typtype} ('b' base, 'e' enum, ...)
   * @param typmod the column's type modifier (numeric precision and scale)
   * @param elemTypname for arrays ({@code typcategory 'A'}), the element's typname, else null
   * @param elemTyptype for arrays, the element's typtype
   * @param sqlName {@code format_type(oid, typmod)}
   */
  public static PgType resolve(String typname, String typtype, int typmod, String elemTypname, String elemTyptype,
      String sqlName) {
    if (elemTypname != null) {
      PgType element = scalar(elemTypname, elemTyptype, -1, elemTypname);
      return element == null ? null : new PgType(sqlName, Parse.ARRAY, LogicalType.json(sqlName), element);
    }
    return scalar(typname, typtype, typmod, sqlName);
  }

  private static PgType scalar(String typname, String typtype, int typmod, String sqlName) {
    if ("e".equals(typtype)) {
      return new PgType(sqlName, Parse.TEXT, new LogicalType(Kind.STRING, 0, 0, sqlName), null);
    }
    switch (typname) {
      case "bool": return of(sqlName, Parse.BOOL, Kind.BOOLEAN);
      case "int2": return of(sqlName, Parse.INT2, Kind.INT16);
      case "int4": return of(sqlName, Parse.INT4, Kind.INT32);
      case "int8": return of(sqlName, Parse.INT8, Kind.INT64);
      case "float4": return of(sqlName, Parse.FLOAT4, Kind.FLOAT32);
      case "float8": return of(sqlName, Parse.FLOAT8, Kind.FLOAT64);
      case "text": case "varchar": case "bpchar": case "uuid": return of(sqlName, Parse.TEXT, Kind.STRING);
      case "json": case "jsonb": return new PgType(sqlName, Parse.JSON, LogicalType.json(sqlName), null);
      case "bytea": return of(sqlName, Parse.BYTEA, Kind.BINARY);
      case "date": return of(sqlName, Parse.DATE, Kind.DATE);
      case "time": return of(sqlName, Parse.TIME, Kind.STRING);
      case "timestamp": return of(sqlName, Parse.TIMESTAMP, Kind.TIMESTAMP_NTZ);
      case "timestamptz": return of(sqlName, Parse.TIMESTAMPTZ, Kind.TIMESTAMP_TZ);
      case "numeric": {
        if (typmod >= 4) {
          int precision = ((typmod - 4) >> 16) & 0xffff;
          int scale = (((typmod - 4) & 0x7ff) ^ 1024) - 1024; // sign-extended 11 bits (negative scales, PG 15+)
          if (precision >= 1 && precision <= 38 && scale >= 0 && scale <= precision) {
            return new PgType(sqlName, Parse.DECIMAL, new LogicalType(Kind.DECIMAL, precision, scale, sqlName), null);
          }
        }
        // Unbounded numeric (or wider than Arrow's 38 digits): lossless text, NaN and Infinity included.
        return of(sqlName, Parse.NUMERIC_TEXT, Kind.STRING);
      }
      default: return null;
    }
  }

  private static PgType of(String sqlName, Parse parse, Kind kind) {
    return new PgType(sqlName, parse, new LogicalType(kind, 0, 0, sqlName), null);
  }

  /** The supported types, for error messages. */
  public static String supportedList() {
    return "bool, int2, int4, int8, numeric, float4, float8, text, varchar, bpchar, uuid, json, jsonb, bytea, date,"
        + " time, timestamp, timestamptz, enums, and arrays of these";
  }
}
