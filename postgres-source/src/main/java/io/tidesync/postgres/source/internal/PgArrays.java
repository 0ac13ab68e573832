package io.tidesync.postgres.source.internal;

/**
 * Turns Postgres array text ({@code {1,2,NULL}}, {@code {"a b","c\"d"}}, nested
 * {@code {{1,2},{3,4}}}, with an optional {@code [1:2]=} bounds prefix) into a JSON array.
 * Elements: booleans and finite numbers as JSON literals, json/jsonb as embedded documents,
 * everything else (and NaN/Infinity) as JSON strings of the Postgres text; NULL as null.
 */
final class PgArrays {
  private PgArrays() {}

  static String toJson(PgType element, String s) {
    int i = 0;
    if (s.startsWith("[")) {
      i = s.indexOf('=') + 1;
    }
    StringBuilder out = new StringBuilder(s.length() + 8);
    int end = parse(element, s, i, out);
    if (end != s.length()) {
      throw new IllegalArgumentException("array '" + s + "' has text after its end");
    }
    return out.toString();
  }

  private static int parse(PgType element, String s, int i, StringBuilder out) {
    if (s.charAt(i) != '{') {
      throw new IllegalArgumentException("array '" + s + "' does not start with '{'");
    }
    i++;
    out.append('[');
    boolean first = true;
    while (true) {
      char c = s.charAt(i);
      if (c == '}') {
        out.append(']');
        return i + 1;
      }
      if (!first) {
        if (c != ',') {
          throw new IllegalArgumentException("array '" + s + "': expected ',' at " + i);
        }
        out.append(',');
        i++;
        c = s.charAt(i);
      }
      first = false;
      if (c == '{') {
        i = parse(element, s, i, out);
      } else if (c == '"') {
        StringBuilder v = new StringBuilder();
        i++;
        while (s.charAt(i) != '"') {
          if (s.charAt(i) == '\\') {
            i++;
          }
          v.append(s.charAt(i++));
        }
        i++;
        element(element, v.toString(), out);
      } else {
        int start = i;
        while (s.charAt(i) != ',' && s.charAt(i) != '}') {
          i++;
        }
        String v = s.substring(start, i).trim();
        if (v.equalsIgnoreCase("NULL")) {
          out.append("null");
        } else {
          element(element, v, out);
        }
      }
    }
  }

  private static void element(PgType t, String v, StringBuilder out) {
    switch (t.parse()) {
      case BOOL -> out.append(TextValues.parseBool(v) ? "true" : "false");
      case INT2, INT4, INT8 -> out.append(Long.parseLong(v));
      case DECIMAL, NUMERIC_TEXT, FLOAT4, FLOAT8 -> {
        if (Character.isLetter(v.charAt(v.length() - 1))) {
          string(v, out); // NaN, Infinity: JSON has no literal for them
        } else {
          out.append(v);
        }
      }
      case JSON -> out.append(v);
      case TIME -> string(TextValues.normalizeTime(v), out);
      default -> string(v, out);
    }
  }

  static void string(String v, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}
