package io.tidesync.postgres.sink.internal;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * PostgreSQL identifiers: the one quoting function every statement of this module uses, the parser
 * for user-written table names, and names derived from a table name within the 63-byte limit.
 */
public final class Identifiers {
  /** PostgreSQL's NAMEDATALEN - 1. */
  public static final int MAX_BYTES = 63;

  private Identifiers() {}

  /** {@code name} as a quoted identifier: always quoted, embedded quotes doubled. */
  public static String quote(String name) {
    if (name.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("identifier contains a NUL character: " + name.replace("\0", "\\0"));
    }
    return '"' + name.replace("\"", "\"\"") + '"';
  }

  /** {@code "schema"."table"}. */
  public static String qualified(String schema, String table) {
    return quote(schema) + '.' + quote(table);
  }

  /**
   * A name for humans: parts that are plain lower-case identifiers stay bare, others are quoted,
   * so that the result parses back to the same name.
   */
  public static String display(String schema, String table) {
    return displayPart(schema) + '.' + displayPart(table);
  }

  private static String displayPart(String s) {
    return s.matches("[a-z_][a-z0-9_$]*") ? s : quote(s);
  }

  public static int byteLength(String s) {
    return s.getBytes(StandardCharsets.UTF_8).length;
  }

  /**
   * {@code base + suffix}, shortened to at most 63 UTF-8 bytes without cutting a character in two.
   * When {@code base} must be cut, a hash of the whole base is inserted so that two long names
   * with the same beginning still derive different names.
   */
  public static String derived(String base, String suffix) {
    String full = base + suffix;
    if (byteLength(full) <= MAX_BYTES) {
      return full;
    }
    String hash = String.format(Locale.ROOT, "_%08x", base.hashCode());
    int budget = MAX_BYTES - byteLength(suffix) - hash.length();
    return prefixWithinBytes(base, budget) + hash + suffix;
  }

  /** The longest prefix of {@code s} that takes at most {@code maxBytes} UTF-8 bytes. */
  static String prefixWithinBytes(String s, int maxBytes) {
    int bytes = 0;
    int i = 0;
    while (i < s.length()) {
      int cp = s.codePointAt(i);
      int len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (bytes + len > maxBytes) {
        break;
      }
      bytes += len;
      i += Character.charCount(cp);
    }
    return s.substring(0, i);
  }

  /**
   * Parses {@code table}, {@code schema.table} or quoted forms such as
   * {@code "My Schema"."Orders"}. Unquoted parts are folded to lower case, as PostgreSQL does.
   *
   * @return one or two parts
   * @throws IllegalArgumentException with a reason, for names that do not parse
   */
  public static List<String> parse(String text) {
    List<String> parts = new ArrayList<>();
    int i = 0;
    int n = text.length();
    while (true) {
      while (i < n && Character.isWhitespace(text.charAt(i))) {
        i++;
      }
      StringBuilder part = new StringBuilder();
      if (i < n && text.charAt(i) == '"') {
        i++;
        boolean closed = false;
        while (i < n) {
          char c = text.charAt(i++);
          if (c == '"') {
            if (i < n && text.charAt(i) == '"') {
              part.append('"');
              i++;
            } else {
              closed = true;
              break;
            }
          } else {
            part.append(c);
          }
        }
        if (!closed) {
          throw new IllegalArgumentException("unterminated quoted identifier");
        }
        if (part.length() == 0) {
          throw new IllegalArgumentException("empty quoted identifier");
        }
      } else {
        while (i < n && text.charAt(i) != '.' && text.charAt(i) != '"' && !Character.isWhitespace(text.charAt(i))) {
          part.append(text.charAt(i++));
        }
        if (part.length() == 0) {
          throw new IllegalArgumentException("empty name part");
        }
        part = new StringBuilder(part.toString().toLowerCase(Locale.ROOT));
      }
      parts.add(part.toString());
      while (i < n && Character.isWhitespace(text.charAt(i))) {
        i++;
      }
      if (i == n) {
        break;
      }
      if (text.charAt(i) != '.') {
        throw new IllegalArgumentException("unexpected character '" + text.charAt(i) + "' at offset " + i);
      }
      i++;
    }
    if (parts.size() > 2) {
      throw new IllegalArgumentException("expected table or schema.table, found " + parts.size() + " parts");
    }
    for (String p : parts) {
      if (p.indexOf('\0') >= 0) {
        throw new IllegalArgumentException("a name cannot contain a NUL character");
      }
      if (byteLength(p) > MAX_BYTES) {
        throw new IllegalArgumentException("'" + p + "' is longer than PostgreSQL's limit of 63 bytes");
      }
    }
    return parts;
  }
}
