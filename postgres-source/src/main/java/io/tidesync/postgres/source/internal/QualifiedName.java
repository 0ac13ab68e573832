package io.tidesync.postgres.source.internal;

import io.tidesync.spi.TableId;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** A table name as SQL reads it: unquoted parts fold to lower case, quoted parts keep theirs. */
public record QualifiedName(String schema, String table) {

  /** Parses {@code schema.table} or {@code table} (schema {@code public}). */
  public static QualifiedName parse(String text) {
    List<String> parts = parts(text);
    if (parts == null || parts.isEmpty() || parts.size() > 2) {
      throw new IllegalArgumentException(problem(text));
    }
    return parts.size() == 1 ? new QualifiedName("public", parts.get(0)) : new QualifiedName(parts.get(0), parts.get(1));
  }

  /** Why {@code text} is not a table name, or null when it is one. */
  public static String problem(String text) {
    List<String> parts = text == null ? null : parts(text);
    if (parts == null || parts.isEmpty() || parts.size() > 2 || parts.stream().anyMatch(String::isEmpty)) {
      return "table '" + text + "' is not a table name: write schema.table or table, with double quotes around"
          + " parts that keep their case";
    }
    return null;
  }

  private static List<String> parts(String s) {
    List<String> out = new ArrayList<>();
    int i = 0;
    int n = s.length();
    while (true) {
      StringBuilder part = new StringBuilder();
      if (i < n && s.charAt(i) == '"') {
        i++;
        while (true) {
          if (i >= n) {
            return null;
          }
          char c = s.charAt(i++);
          if (c == '"') {
            if (i < n && s.charAt(i) == '"') {
              part.append('"');
              i++;
            } else {
              break;
            }
          } else {
            part.append(c);
          }
        }
        out.add(part.toString());
      } else {
        while (i < n && s.charAt(i) != '.') {
          char c = s.charAt(i++);
          if (c == '"' || Character.isWhitespace(c)) {
            return null;
          }
          part.append(c);
        }
        out.add(part.toString().toLowerCase(Locale.ROOT));
      }
      if (i >= n) {
        return out;
      }
      if (s.charAt(i) != '.') {
        return null;
      }
      i++;
    }
  }

  public TableId tableId() {
    return TableId.of(schema, table);
  }

  /** The name quoted for SQL statements. */
  public String sql() {
    return quote(schema) + "." + quote(table);
  }

  public static String quote(String identifier) {
    return "\"" + identifier.replace("\"", "\"\"") + "\"";
  }

  @Override
  public String toString() {
    return schema + "." + table;
  }
}
