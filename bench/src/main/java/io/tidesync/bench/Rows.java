package io.tidesync.bench;

import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.LogicalType.Kind;
import io.tidesync.spi.TableSchema;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The benchmark's deterministic data: row {@code id} in variant {@code v} (0 = first image, 1 =
 * the image after an update) is a pure function of (seed, id, v), so any contender's expected
 * target can be recomputed without holding the rows. Ten columns: bigint key, two text (one 5%
 * null, some non-ASCII), numeric(12,2), double, boolean, timestamp, date, a short code string, int.
 *
 * <p>The checksum of a set of rows is (count, sum over rows of the first 60 bits of md5(row text)),
 * where the row text is built identically here and by {@link #CHECKSUM_SQL} in PostgreSQL, so a
 * target is verified against the generator, not against another contender.
 */
final class Rows {
  static final TableSchema SCHEMA = TableSchema.of(List.of(
      new Column("id", LogicalType.of(Kind.INT64), false),
      Column.of("t1", LogicalType.of(Kind.STRING)),
      Column.of("t2", LogicalType.of(Kind.STRING)),
      Column.of("amount", LogicalType.decimal(12, 2)),
      Column.of("score", LogicalType.of(Kind.FLOAT64)),
      Column.of("flag", LogicalType.of(Kind.BOOLEAN)),
      Column.of("ts", LogicalType.of(Kind.TIMESTAMP_TZ)),
      Column.of("day", LogicalType.of(Kind.DATE)),
      Column.of("code", LogicalType.of(Kind.STRING)),
      Column.of("qty", LogicalType.of(Kind.INT32))));

  /** The target DDL the Postgres sink's type mapping produces for {@link #SCHEMA}. */
  static final String COLUMNS_DDL = "id bigint NOT NULL, t1 text, t2 text, amount numeric(12,2), score double precision,"
      + " flag boolean, ts timestamptz, day date, code text, qty integer";
  static final String COLUMN_LIST = "id, t1, t2, amount, score, flag, ts, day, code, qty";

  /** count and checksum of a table, to compare with {@link Checksum}; {@code %s} is the table. */
  static final String CHECKSUM_SQL = "SELECT count(*), coalesce(sum(('x' || substr(md5(id::text || '|' || t1 || '|'"
      + " || coalesce(t2, '~') || '|' || amount::text || '|' || (score * 8)::bigint::text || '|' || flag::text || '|'"
      + " || (extract(epoch from ts) * 1000000)::bigint::text || '|' || (day - date '1970-01-01')::text || '|' || code"
      + " || '|' || qty::text), 1, 15))::bit(60)::bigint), 0) FROM %s";

  private static final String[] CODES = {"NEW", "OPEN", "PAID", "SHIPPED", "RETURNED", "CLOSED", "HOLD", "VOID"};
  private static final long TS_BASE = 1_577_836_800_000_000L; // 2020-01-01 in microseconds
  private static final long TS_RANGE = 5L * 365 * 86_400_000_000L;

  /** One row, mutable so loops can reuse it. */
  static final class Row {
    long id;
    String t1;
    String t2;
    long amountCents;
    double score;
    boolean flag;
    long tsMicros;
    int day;
    String code;
    int qty;

    BigDecimal amount() {
      return BigDecimal.valueOf(amountCents, 2);
    }

    /** Canonical values in schema order (for the Delta writer and ChangeBatchBuilder). */
    Object[] canonical() {
      return new Object[] {id, t1, t2, amount(), score, flag, instant(), LocalDate.ofEpochDay(day), code, qty};
    }

    Instant instant() {
      return Instant.ofEpochSecond(Math.floorDiv(tsMicros, 1_000_000L), Math.floorMod(tsMicros, 1_000_000L) * 1000L);
    }

    String text() {
      return id + "|" + t1 + "|" + (t2 == null ? "~" : t2) + "|" + amount().toPlainString() + "|" + (long) (score * 8) + "|"
          + flag + "|" + tsMicros + "|" + day + "|" + code + "|" + qty;
    }
  }

  private final long seed;

  Rows(long seed) {
    this.seed = seed;
  }

  long seed() {
    return seed;
  }

  void fill(long id, int variant, Row r) {
    SplittableRandom rnd = new SplittableRandom(mix(seed ^ mix(id * 0x9E3779B97F4A7C15L + variant)));
    r.id = id;
    int n = rnd.nextInt(1_000_000);
    r.t1 = (n % 10 == 0 ? "Kundin Müller-" : "Customer ") + n + (n % 3 == 0 ? " of region " + (n % 97) : "");
    r.t2 = rnd.nextInt(20) == 0 ? null : "user" + Long.toHexString(rnd.nextLong()) + "@example.com";
    r.amountCents = rnd.nextLong(-50_000_000L, 500_000_000L);
    r.score = rnd.nextInt(8_000_000) / 8.0;
    r.flag = rnd.nextBoolean();
    r.tsMicros = TS_BASE + rnd.nextLong(TS_RANGE);
    r.day = 10_000 + rnd.nextInt(10_000);
    r.code = CODES[rnd.nextInt(CODES.length)];
    r.qty = rnd.nextInt(-1000, 100_000);
  }

  Row row(long id, int variant) {
    Row r = new Row();
    fill(id, variant, r);
    return r;
  }

  /** Fills the current row of a batch builder (after {@code startRow}). */
  static void set(ChangeBatchBuilder b, Row r) {
    b.setLong(0, r.id);
    b.set(1, r.t1);
    b.set(2, r.t2);
    b.set(3, r.amount());
    b.set(4, r.score);
    b.set(5, r.flag);
    b.setStorageLong(6, r.tsMicros);
    b.setStorageLong(7, r.day);
    b.set(8, r.code);
    b.set(9, r.qty);
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  /** An order-independent checksum of a multiset of rows, matching {@link #CHECKSUM_SQL}. */
  static final class Checksum {
    private final MessageDigest md5;
    long count;
    private long hi;
    private long lo;

    Checksum() {
      try {
        md5 = MessageDigest.getInstance("MD5");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    private long hash60(Row r) {
      byte[] d = md5.digest(r.text().getBytes(StandardCharsets.UTF_8));
      long v = 0;
      for (int i = 0; i < 8; i++) {
        v = (v << 8) | (d[i] & 0xff);
      }
      return v >>> 4;
    }

    void add(Row r) {
      long h = hash60(r);
      hi += h >>> 32;
      lo += h & 0xffffffffL;
      count++;
    }

    void remove(Row r) {
      long h = hash60(r);
      hi -= h >>> 32;
      lo -= h & 0xffffffffL;
      count--;
    }

    BigInteger sum() {
      return BigInteger.valueOf(hi).shiftLeft(32).add(BigInteger.valueOf(lo));
    }

    Checksum copy() {
      Checksum c = new Checksum();
      c.count = count;
      c.hi = hi;
      c.lo = lo;
      return c;
    }

    @Override
    public String toString() {
      return count + " rows, checksum " + sum();
    }
  }
}
