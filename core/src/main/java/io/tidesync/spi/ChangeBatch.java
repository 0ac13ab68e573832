package io.tidesync.spi;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.Objects;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.DateDayVector;
import org.apache.arrow.vector.DecimalVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.SmallIntVector;
import org.apache.arrow.vector.TimeStampMicroTZVector;
import org.apache.arrow.vector.TimeStampMicroVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * The contract between every source and every sink: rows of one table in Arrow vectors, with a
 * change kind, commit version and commit timestamp per row, and the end {@link Position}.
 *
 * <p>Column {@code i} of {@link #data()} holds the table's column {@code i} of {@link #schema()},
 * in the Arrow vector type {@link ChangeBatchBuilder} documents for its {@link LogicalType}. Rows
 * are in commit order. Within one commit version, a source whose version may span batches emits
 * the version's {@code DELETE} and {@code UPDATE_PREIMAGE} rows before its {@code INSERT} and
 * {@code UPDATE_POSTIMAGE} rows: a key a version gives an after-image must not be deleted by a
 * later batch of the same version (an update that changes the primary key has its pre-image under
 * the old key and its post-image under the new one). A batch owns its buffers: whoever receives it closes it (the pipeline does,
 * after the sink applied it). Not thread safe.
 */
public final class ChangeBatch implements AutoCloseable {
  private final TableId table;
  private final TableSchema schema;
  private final BatchType type;
  private final boolean lastOfSnapshot;
  private final Position endPosition;
  private final VectorSchemaRoot data;
  private final TinyIntVector kinds;
  private final BigIntVector commitVersions;
  private final BigIntVector commitTimestamps;
  private final BigIntVector transactionIds;
  private final boolean partial;
  private boolean closed;

  ChangeBatch(TableId table, TableSchema schema, BatchType type, boolean lastOfSnapshot, Position endPosition,
      VectorSchemaRoot data, TinyIntVector kinds, BigIntVector commitVersions, BigIntVector commitTimestamps,
      BigIntVector transactionIds, boolean partial) {
    this.table = Objects.requireNonNull(table);
    this.schema = Objects.requireNonNull(schema);
    this.type = Objects.requireNonNull(type);
    this.lastOfSnapshot = lastOfSnapshot;
    this.endPosition = Objects.requireNonNull(endPosition, "endPosition");
    this.data = data;
    this.kinds = kinds;
    this.commitVersions = commitVersions;
    this.commitTimestamps = commitTimestamps;
    this.transactionIds = transactionIds;
    this.partial = partial;
  }

  public TableId table() {
    return table;
  }

  public TableSchema schema() {
    return schema;
  }

  public BatchType type() {
    return type;
  }

  /** For {@link BatchType#SNAPSHOT}: this batch completes the snapshot. Always false for changes. */
  public boolean lastOfSnapshot() {
    return lastOfSnapshot;
  }

  /**
   * True when this batch's rows are only part of a unit that continues in the next batch: a
   * snapshot before its last batch, or one source transaction too large for one batch (the
   * batches of such a transaction follow each other with nothing in between). A sink makes the
   * unit durable, with the end position, only with the batch that completes it; the pipeline
   * acknowledges only complete batches. A sink that cannot hold a transaction open across batches
   * must reject partial {@link BatchType#CHANGES} batches with a clear error.
   */
  public boolean isPartial() {
    return type == BatchType.SNAPSHOT ? !lastOfSnapshot : partial;
  }

  /** Everything up to this position is in this batch and the ones before it. */
  public Position endPosition() {
    return endPosition;
  }

  public int rowCount() {
    return data.getRowCount();
  }

  /** The row images; column order is {@link #schema()}'s. */
  public VectorSchemaRoot data() {
    return data;
  }

  /** The Arrow vector of column {@code column}. */
  public FieldVector vector(int column) {
    return data.getVector(column);
  }

  public ChangeKind kind(int row) {
    return ChangeKind.ofCode(kinds.get(row));
  }

  /** Commit version (Delta) or commit LSN (Postgres) of the row's change. */
  public long commitVersion(int row) {
    return commitVersions.get(row);
  }

  /** Commit time of the row's change, in microseconds since the epoch. */
  public long commitTimestampMicros(int row) {
    return commitTimestamps.get(row);
  }

  /** The source transaction id of the row's change (a Postgres xid), or -1 when the source has none. */
  public long transactionId(int row) {
    return transactionIds.get(row);
  }

  public boolean isNull(int column, int row) {
    return data.getVector(column).isNull(row);
  }

  /**
   * The value at ({@code column}, {@code row}) as its canonical Java value (see
   * {@link LogicalType.Kind}), or null.
   */
  public Object value(int column, int row) {
    FieldVector v = data.getVector(column);
    if (v.isNull(row)) {
      return null;
    }
    LogicalType t = schema.column(column).type();
    switch (t.kind()) {
      case BOOLEAN: return ((BitVector) v).get(row) != 0;
      case INT8: return ((TinyIntVector) v).get(row);
      case INT16: return ((SmallIntVector) v).get(row);
      case INT32: return ((IntVector) v).get(row);
      case INT64: return ((BigIntVector) v).get(row);
      case FLOAT32: return ((Float4Vector) v).get(row);
      case FLOAT64: return ((Float8Vector) v).get(row);
      case DECIMAL: {
        BigDecimal d = ((DecimalVector) v).getObject(row);
        return d;
      }
      case STRING:
      case JSON: return new String(((VarCharVector) v).get(row), StandardCharsets.UTF_8);
      case BINARY: return ((VarBinaryVector) v).get(row);
      case DATE: return LocalDate.ofEpochDay(((DateDayVector) v).get(row));
      case TIMESTAMP_TZ: return microsToInstant(((TimeStampMicroTZVector) v).get(row));
      case TIMESTAMP_NTZ: return LocalDateTime.ofInstant(microsToInstant(((TimeStampMicroVector) v).get(row)), ZoneOffset.UTC);
      default: throw new IllegalStateException("unhandled type " + t);
    }
  }

  static Instant microsToInstant(long micros) {
    return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L);
  }

  /** Releases the Arrow buffers. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    data.close();
    kinds.close();
    commitVersions.close();
    commitTimestamps.close();
    transactionIds.close();
  }

  @Override
  public String toString() {
    return type + " batch of " + rowCount() + " rows of " + table + " up to " + endPosition;
  }
}
