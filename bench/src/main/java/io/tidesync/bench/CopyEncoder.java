package io.tidesync.bench;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;

/**
 * Hand-written PostgreSQL binary COPY encoding of {@link Rows.Row}s, as a user writing their own
 * loader would: the ingest-limit and staging-MERGE contenders use it (not Tidesync's encoder).
 */
final class CopyEncoder {
  private static final byte[] HEADER = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', (byte) 0xff, '\r', '\n', 0};
  private static final long PG_EPOCH_MICROS = 946_684_800_000_000L;
  private static final int PG_EPOCH_DAYS = 10_957;

  private final ByteArrayOutputStream bytes;
  private final DataOutputStream out;

  CopyEncoder(int initialBytes) {
    bytes = new ByteArrayOutputStream(initialBytes);
    out = new DataOutputStream(bytes);
    try {
      out.write(HEADER);
      out.writeInt(0);
      out.writeInt(0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A full row, plus a trailing boolean column when {@code withDeleteFlag}. */
  void row(Rows.Row r, boolean withDeleteFlag) {
    try {
      out.writeShort(withDeleteFlag ? 11 : 10);
      out.writeInt(8);
      out.writeLong(r.id);
      text(r.t1);
      text(r.t2);
      numeric(r.amountCents, 2);
      out.writeInt(8);
      out.writeDouble(r.score);
      out.writeInt(1);
      out.writeByte(r.flag ? 1 : 0);
      out.writeInt(8);
      out.writeLong(r.tsMicros - PG_EPOCH_MICROS);
      out.writeInt(4);
      out.writeInt(r.day - PG_EPOCH_DAYS);
      text(r.code);
      out.writeInt(4);
      out.writeInt(r.qty);
      if (withDeleteFlag) {
        out.writeInt(1);
        out.writeByte(0);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A delete: the key, nulls, and the delete flag set. */
  void delete(long id) {
    try {
      out.writeShort(11);
      out.writeInt(8);
      out.writeLong(id);
      for (int i = 0; i < 9; i++) {
        out.writeInt(-1);
      }
      out.writeInt(1);
      out.writeByte(1);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  byte[] finish() {
    try {
      out.writeShort(-1);
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private void text(String s) throws IOException {
    if (s == null) {
      out.writeInt(-1);
      return;
    }
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.writeInt(b.length);
    out.write(b);
  }

  /** PostgreSQL's binary numeric: base-10000 digits, weight, sign, display scale. */
  private void numeric(long unscaled, int scale) throws IOException {
    boolean negative = unscaled < 0;
    String digits = BigInteger.valueOf(unscaled).abs().toString();
    while (digits.length() <= scale) {
      digits = "0" + digits;
    }
    String intPart = digits.substring(0, digits.length() - scale);
    String fracPart = digits.substring(digits.length() - scale);
    while (intPart.length() % 4 != 0) {
      intPart = "0" + intPart;
    }
    while (fracPart.length() % 4 != 0) {
      fracPart = fracPart + "0";
    }
    String all = intPart + fracPart;
    int groups = all.length() / 4;
    short[] g = new short[groups];
    for (int i = 0; i < groups; i++) {
      g[i] = Short.parseShort(all.substring(4 * i, 4 * i + 4));
    }
    int weight = intPart.length() / 4 - 1;
    int first = 0;
    while (first < groups && g[first] == 0) {
      first++;
      weight--;
    }
    int last = groups - 1;
    while (last >= first && g[last] == 0) {
      last--;
    }
    int n = last - first + 1;
    if (n <= 0) {
      out.writeInt(8);
      out.writeShort(0);
      out.writeShort(0);
      out.writeShort(0);
      out.writeShort(scale);
      return;
    }
    out.writeInt(8 + 2 * n);
    out.writeShort(n);
    out.writeShort(weight);
    out.writeShort(negative ? 0x4000 : 0);
    out.writeShort(scale);
    for (int i = first; i <= last; i++) {
      out.writeShort(g[i]);
    }
  }
}
