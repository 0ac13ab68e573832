package io.tidesync.postgres.source.internal;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneOffset;

/**
 * Parses Postgres text output ({@code DateStyle ISO}, {@code bytea_output hex} or escape) into the
 * canonical Java values of {@link io.tidesync.spi.LogicalType.Kind}. The snapshot reads columns as
 * text too, so snapshot and stream values go through this one parser. Pure; throws
 * {@link IllegalArgumentException} with the reason (callers add table and column).
 */
public final class TextValues {
  private TextValues() {}

  public static Object parse(PgType type, String s) {
    switch (type.parse()) {
      case BOOL: return parseBool(s);
      case INT2: return Short.parseShort(s);
      case INT4: return Integer.parseInt(s);
      case INT8: return Long.parseLong(s);
      case DECIMAL: {
        if (!s.isEmpty() && (Character.isLetter(s.charAt(0)) || Character.isLetter(s.charAt(s.length() - 1)))) {
          throw new IllegalArgumentException("value '" + s + "' of type " + type.sqlName()
              + " has no DECIMAL form (NaN and Infinity do not fit)");
        }
        return new BigDecimal(s);
      }
      case NUMERIC_TEXT, TEXT, JSON: return s;
      case FLOAT4: return Float.parseFloat(s);
      case FLOAT8: return Double.parseDouble(s);
      case BYTEA: return parseBytea(s);
      case DATE: return parseDate(s);
      case TIME: return normalizeTime(s);
      case TIMESTAMP: return parseTimestamp(s);
      case TIMESTAMPTZ: return parseTimestampTz(s);
      case ARRAY: return PgArrays.toJson(type.element(), s);
      default: throw new IllegalStateException("unhandled " + type.parse());
    }
  }

  static Boolean parseBool(String s) {
    switch (s) {
      case "t", "true": return Boolean.TRUE;
      case "f", "false": return Boolean.FALSE;
      default: throw new IllegalArgumentException("'" + s + "' is not a boolean");
    }
  }

  static byte[] parseBytea(String s) {
    if (s.startsWith("\\x")) {
      int n = (s.length() - 2) / 2;
      byte[] out = new byte[n];
      for (int i = 0; i < n; i++) {
        out[i] = (byte) ((hex(s.charAt(2 + 2 * i)) << 4) | hex(s.charAt(3 + 2 * i)));
      }
      return out;
    }
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c != '\\') {
        out.write((byte) c);
      } else if (s.charAt(i + 1) == '\\') {
        out.write('\\');
        i++;
      } else {
        out.write(Integer.parseInt(s.substring(i + 1, i + 4), 8));
        i += 3;
      }
    }
    return out.toByteArray();
  }

  private static int hex(char c) {
    int d = Character.digit(c, 16);
    if (d < 0) {
      throw new IllegalArgumentException("'" + c + "' is not a hex digit");
    }
    return d;
  }

  /** {@code YYYY-MM-DD[ BC]}; infinity has no LocalDate form. */
  static LocalDate parseDate(String s) {
    boolean bc = s.endsWith(" BC");
    String body = bc ? s.substring(0, s.length() - 3) : s;
    if (body.endsWith("infinity")) {
      throw new IllegalArgumentException("date '" + s + "' is infinite and has no DATE form");
    }
    int d1 = body.indexOf('-');
    int d2 = body.indexOf('-', d1 + 1);
    int year = Integer.parseInt(body.substring(0, d1));
    return LocalDate.of(bc ? 1 - year : year, Integer.parseInt(body.substring(d1 + 1, d2)),
        Integer.parseInt(body.substring(d2 + 1)));
  }

  /** {@code HH:MM:SS[.f]} to {@code HH:MM:SS.ffffff} (24:00:00 stays as Postgres allows it). */
  static String normalizeTime(String s) {
    int dot = s.indexOf('.');
    if (dot < 0) {
      return s + ".000000";
    }
    StringBuilder sb = new StringBuilder(s);
    while (sb.length() - dot - 1 < 6) {
      sb.append('0');
    }
    return sb.toString();
  }

  static LocalDateTime parseTimestamp(String s) {
    boolean bc = s.endsWith(" BC");
    String body = bc ? s.substring(0, s.length() - 3) : s;
    if (body.endsWith("infinity")) {
      throw new IllegalArgumentException("timestamp '" + s + "' is infinite and has no TIMESTAMP form");
    }
    int space = body.indexOf(' ');
    LocalDate date = parseDate(body.substring(0, space) + (bc ? " BC" : ""));
    return LocalDateTime.of(date, parseClock(body, space + 1, body.length()));
  }

  /** {@code YYYY-MM-DD HH:MM:SS[.f]+HH[:MM[:SS]][ BC]}. */
  static Instant parseTimestampTz(String s) {
    boolean bc = s.endsWith(" BC");
    String body = bc ? s.substring(0, s.length() - 3) : s;
    if (body.endsWith("infinity")) {
      throw new IllegalArgumentException("timestamptz '" + s + "' is infinite and has no TIMESTAMP form");
    }
    int space = body.indexOf(' ');
    int sign = Math.max(body.lastIndexOf('+'), body.lastIndexOf('-'));
    if (sign <= space) {
      throw new IllegalArgumentException("timestamptz '" + s + "' has no UTC offset");
    }
    LocalDate date = parseDate(body.substring(0, space) + (bc ? " BC" : ""));
    LocalTime time = parseClock(body, space + 1, sign);
    String[] off = body.substring(sign + 1).split(":");
    int secs = Integer.parseInt(off[0]) * 3600 + (off.length > 1 ? Integer.parseInt(off[1]) * 60 : 0)
        + (off.length > 2 ? Integer.parseInt(off[2]) : 0);
    ZoneOffset offset = ZoneOffset.ofTotalSeconds(body.charAt(sign) == '-' ? -secs : secs);
    return LocalDateTime.of(date, time).toInstant(offset);
  }

  private static LocalTime parseClock(String s, int from, int to) {
    int h = Integer.parseInt(s.substring(from, from + 2));
    int m = Integer.parseInt(s.substring(from + 3, from + 5));
    int sec = Integer.parseInt(s.substring(from + 6, from + 8));
    int nanos = 0;
    if (from + 8 < to && s.charAt(from + 8) == '.') {
      String frac = s.substring(from + 9, to);
      nanos = Integer.parseInt((frac + "000000000").substring(0, 9));
    }
    return LocalTime.of(h, m, sec, nanos);
  }
}
