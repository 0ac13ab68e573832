package io.tidesync.postgres.source.internal;

import io.tidesync.InvalidSourceDataException;
import io.tidesync.spi.ChangeBatchBuilder;
import java.nio.charset.StandardCharsets;

/** Sets one text value into a batch column through {@link TextValues}, with a clear error on bad values. */
final class RowDecoding {
  private RowDecoding() {}

  /**
   * @param text the value's UTF-8 bytes
   * @param string the same value as a String, or null to decode it from {@code text} when needed
   */
  static void set(ChangeBatchBuilder b, int column, PgType type, byte[] text, String string, TableInfo table,
      String pipeline, long lsn) {
    switch (type.parse()) {
      case TEXT, JSON, NUMERIC_TEXT -> b.setBytes(column, text);
      default -> {
        String s = string != null ? string : new String(text, StandardCharsets.UTF_8);
        Object v;
        try {
          v = TextValues.parse(type, s);
        } catch (RuntimeException e) {
          throw new InvalidSourceDataException(pipeline + ": cannot decode column " + table.schema().column(column).name()
              + " of table " + table.name() + " at LSN " + Lsn.format(lsn) + ": value '" + abbreviate(s) + "' of type "
              + type.sqlName() + ": " + e.getMessage() + ". Change the value or the column's type, or leave the table out");
        }
        b.set(column, v);
      }
    }
  }

  private static String abbreviate(String s) {
    return s.length() <= 100 ? s : s.substring(0, 100) + "...";
  }
}
