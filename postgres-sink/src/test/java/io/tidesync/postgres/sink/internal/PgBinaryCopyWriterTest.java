package io.tidesync.postgres.sink.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.tidesync.spi.BatchType;
import io.tidesync.spi.ChangeBatch;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.Position;
import io.tidesync.spi.TableId;
import io.tidesync.spi.TableSchema;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

/**
 * The COPY writer's long-based numeric encoding writes the same bytes as its BigDecimal encoding,
 * for random decimals of every scale and precision. Replay with {@code -Dtidesync.seed=<seed>}.
 */
class PgBinaryCopyWriterTest {

  @Test
  void decimalsEncodeLikeTheBigDecimalPath() {
    long seed = Long.getLong("tidesync.seed", new Random().nextLong());
    Random random = new Random(seed);
    List<Column> cols = new ArrayList<>();
    int[][] precisionScale = {{1, 0}, {5, 0}, {9, 4}, {12, 2}, {18, 0}, {18, 3}, {18, 9}, {18, 15}, {18, 17},
        {16, 16}, {19, 2}, {38, 0}, {38, 10}, {38, 37}};
    for (int[] ps : precisionScale) {
      cols.add(Column.of("d" + ps[0] + "_" + ps[1], LogicalType.decimal(ps[0], ps[1])));
    }
    TableSchema schema = TableSchema.of(cols);
    int rows = 2000;
    try (BufferAllocator alloc = new RootAllocator();
        ChangeBatchBuilder b = new ChangeBatchBuilder(alloc, TableId.of("lake", "src"), schema)) {
      for (int r = 0; r < rows; r++) {
        b.startRow(ChangeKind.INSERT, 1, 0);
        for (int c = 0; c < precisionScale.length; c++) {
          b.set(c, randomDecimal(random, precisionScale[c][0], precisionScale[c][1], r));
        }
      }
      try (ChangeBatch batch = b.build(BatchType.CHANGES, false, Position.of("src", 1))) {
        PgBinaryCopyWriter w = new PgBinaryCopyWriter(batch, new boolean[schema.size()], false);
        for (int r = 0; r < rows; r++) {
          for (int c = 0; c < precisionScale.length; c++) {
            BigDecimal d = (BigDecimal) batch.value(c, r);
            assertThat(w.encode(c, r)).as("seed " + seed + ": " + d + " in " + schema.column(c).type())
                .isEqualTo(w.encodeNumeric(d));
          }
        }
      }
    }
  }

  /** Random digits of random length, with zeros, extremes and trailing zero groups mixed in. */
  private static BigDecimal randomDecimal(Random random, int precision, int scale, int row) {
    BigInteger max = BigInteger.TEN.pow(precision).subtract(BigInteger.ONE);
    BigInteger unscaled = switch (row % 8) {
      case 0 -> BigInteger.ZERO;
      case 1 -> max;
      case 2 -> max.negate();
      case 3 -> BigInteger.TEN.pow(random.nextInt(precision));
      default -> new BigInteger(max.bitLength() + 4, random).mod(BigInteger.TEN.pow(1 + random.nextInt(precision)));
    };
    if (random.nextBoolean()) {
      unscaled = unscaled.negate();
    }
    return new BigDecimal(unscaled, scale);
  }
}
