package io.tidesync.delta.sink.internal;

import io.delta.kernel.types.BinaryType;
import io.delta.kernel.types.BooleanType;
import io.delta.kernel.types.ByteType;
import io.delta.kernel.types.DataType;
import io.delta.kernel.types.DateType;
import io.delta.kernel.types.DecimalType;
import io.delta.kernel.types.DoubleType;
import io.delta.kernel.types.FloatType;
import io.delta.kernel.types.IntegerType;
import io.delta.kernel.types.LongType;
import io.delta.kernel.types.ShortType;
import io.delta.kernel.types.StringType;
import io.delta.kernel.types.StructField;
import io.delta.kernel.types.StructType;
import io.delta.kernel.types.TimestampNTZType;
import io.delta.kernel.types.TimestampType;
import io.tidesync.ConfigurationException;
import io.tidesync.delta.sink.HistoryNaming;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.TableSchema;
import java.util.Locale;

/** The history table schema of a source schema: type mapping, metadata columns, name checks. */
final class KernelSchemas {
  /** Characters Delta cannot store in a column name without column mapping (which Kernel cannot write). */
  private static final String INVALID_NAME_CHARS = " ,;{}()\n\t=";

  private KernelSchemas() {}

  static DataType kernelType(LogicalType t) {
    switch (t.kind()) {
      case BOOLEAN: return BooleanType.BOOLEAN;
      case INT8: return ByteType.BYTE;
      case INT16: return ShortType.SHORT;
      case INT32: return IntegerType.INTEGER;
      case INT64: return LongType.LONG;
      case FLOAT32: return FloatType.FLOAT;
      case FLOAT64: return DoubleType.DOUBLE;
      case DECIMAL: return new DecimalType(t.precision(), t.scale());
      case STRING:
      case JSON: return StringType.STRING;
      case BINARY: return BinaryType.BINARY;
      case DATE: return DateType.DATE;
      case TIMESTAMP_TZ: return TimestampType.TIMESTAMP;
      case TIMESTAMP_NTZ: return TimestampNTZType.TIMESTAMP_NTZ;
      default: throw new IllegalArgumentException("unhandled type " + t);
    }
  }

  /**
   * Source columns then metadata columns, all nullable.
   *
   * @throws ConfigurationException for a column name Delta cannot store or one that clashes with a metadata column
   */
  static StructType historySchema(String tablePath, TableSchema source, HistoryNaming naming) {
    StructType s = new StructType();
    for (Column c : source.columns()) {
      checkName(tablePath, c.name(), naming);
      s = s.add(new StructField(c.name(), kernelType(c.type()), true));
    }
    s = s.add(naming.changeTypeColumn(), StringType.STRING, true);
    s = s.add(naming.lsnColumn(), LongType.LONG, true);
    if (naming.xidColumn().isPresent()) {
      s = s.add(naming.xidColumn().get(), LongType.LONG, true);
    }
    s = s.add(naming.timestampColumn(), TimestampType.TIMESTAMP, true);
    return s.add(naming.sequenceColumn(), LongType.LONG, true);
  }

  static void checkName(String tablePath, String name, HistoryNaming naming) {
    for (int i = 0; i < name.length(); i++) {
      if (INVALID_NAME_CHARS.indexOf(name.charAt(i)) >= 0) {
        throw new ConfigurationException(tablePath + ": cannot create the history table: source column '"
            + name.replace("\n", "\\n").replace("\t", "\\t") + "' contains a character Delta cannot store without"
            + " column mapping (one of space , ; { } ( ) newline tab =), and Delta Kernel cannot write column-mapping"
            + " tables. Rename the column in the source, or leave the table out of the pipeline");
      }
    }
    for (String meta : naming.columns()) {
      if (meta.toLowerCase(Locale.ROOT).equals(name.toLowerCase(Locale.ROOT))) {
        throw new ConfigurationException(tablePath + ": cannot create the history table: source column '" + name
            + "' has the name of a metadata column of naming " + naming + ". Use the other HistoryNaming, or rename"
            + " the source column");
      }
    }
  }
}
