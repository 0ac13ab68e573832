package io.tidesync.postgres.source.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidesync.postgres.source.internal.PgOutputMessage.Insert;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Seeded randomized round trip: canonical value -> Postgres text output -> pgoutput tuple bytes ->
 * decoder -> parser -> the same canonical value, for every supported type. Replay with
 * -Dtidesync.seed=N.
 */
class TextValuesRoundTripTest {

  record Case(PgType type, Function<Random, Object[]> gen) {} // gen returns {expected value, postgres text}

  static PgType t(String typname, int typmod) {
    return PgType.resolve(typname, "b", typmod, null, null, typname);
  }

  static PgType array(String elem) {
    return PgType.resolve("_" + elem, "b", -1, elem, "b", elem + "[]");
  }

  static String dateText(LocalDate d) {
    int y = d.getYear();
    String base = String.format("%04d-%02d-%02d", y <= 0 ? 1 - y : y, d.getMonthValue(), d.getDayOfMonth());
    return y <= 0 ? base : base;
  }

  static LocalDate randomDate(Random r) {
    return LocalDate.ofEpochDay(r.nextInt(4_000_000) - 2_000_000); // about 3500 BC .. 7400 AD
  }

  static String withEra(String text, int year) {
    return year <= 0 ? text + " BC" : text;
  }

  static String fraction(int nanos) {
    if (nanos == 0) {
      return "";
    }
    String f = String.format("%06d", nanos / 1000);
    return "." + f.replaceAll("0+$", "");
  }

  static List<Case> cases() {
    List<Case> c = new ArrayList<>();
    c.add(new Case(t("bool", -1), r -> {
      boolean b = r.nextBoolean();
      return new Object[] {b, b ? "t" : "f"};
    }));
    c.add(new Case(t("int2", -1), r -> {
      short v = (short) r.nextInt();
      return new Object[] {v, Short.toString(v)};
    }));
    c.add(new Case(t("int4", -1), r -> {
      int v = r.nextInt();
      return new Object[] {v, Integer.toString(v)};
    }));
    c.add(new Case(t("int8", -1), r -> {
      long v = r.nextLong();
      return new Object[] {v, Long.toString(v)};
    }));
    c.add(new Case(t("numeric", ((18 << 16) | 4) + 4), r -> {
      BigDecimal v = BigDecimal.valueOf(r.nextLong() % 100_000_000_000_000L, 4);
      return new Object[] {v, v.toPlainString()};
    }));
    c.add(new Case(t("numeric", -1), r -> {
      String s = r.nextInt(10) == 0 ? "NaN" : new BigDecimal(new java.math.BigInteger(200, r), r.nextInt(60)).toPlainString();
      return new Object[] {s, s};
    }));
    c.add(new Case(t("float4", -1), r -> {
      float f = r.nextInt(20) == 0 ? Float.NaN : Float.intBitsToFloat(r.nextInt());
      if (Float.isNaN(f)) {
        return new Object[] {Float.NaN, "NaN"};
      }
      return new Object[] {f, Float.isInfinite(f) ? (f > 0 ? "Infinity" : "-Infinity") : Float.toString(f).replace("E", "e")};
    }));
    c.add(new Case(t("float8", -1), r -> {
      double d = Double.longBitsToDouble(r.nextLong());
      if (Double.isNaN(d)) {
        return new Object[] {Double.NaN, "NaN"};
      }
      return new Object[] {d, Double.isInfinite(d) ? (d > 0 ? "Infinity" : "-Infinity") : Double.toString(d)};
    }));
    for (String s : List.of("text", "varchar", "bpchar", "uuid")) {
      c.add(new Case(t(s, -1), r -> {
        String v = randomString(r);
        return new Object[] {v, v};
      }));
    }
    c.add(new Case(PgType.resolve("mood", "e", -1, null, null, "mood"), r -> new Object[] {"happy", "happy"}));
    c.add(new Case(t("jsonb", -1), r -> {
      String v = "{\"a\": " + r.nextInt() + ", \"b\": [true, null]}";
      return new Object[] {v, v};
    }));
    c.add(new Case(t("bytea", -1), r -> {
      byte[] b = new byte[r.nextInt(40)];
      r.nextBytes(b);
      return new Object[] {b, "\\x" + HexFormat.of().formatHex(b)};
    }));
    c.add(new Case(t("date", -1), r -> {
      LocalDate d = randomDate(r);
      return new Object[] {d, withEra(dateText(d), d.getYear())};
    }));
    c.add(new Case(t("time", -1), r -> {
      int micros = r.nextInt(1_000_000);
      String base = String.format("%02d:%02d:%02d", r.nextInt(24), r.nextInt(60), r.nextInt(60));
      String text = base + fraction(micros * 1000);
      return new Object[] {base + "." + String.format("%06d", micros), text};
    }));
    c.add(new Case(t("timestamp", -1), r -> {
      LocalDateTime ts = LocalDateTime.of(randomDate(r), java.time.LocalTime.ofNanoOfDay(r.nextLong(86_400_000_000L) * 1000));
      String text = dateText(ts.toLocalDate()) + " " + String.format("%02d:%02d:%02d", ts.getHour(), ts.getMinute(), ts.getSecond())
          + fraction(ts.getNano());
      return new Object[] {ts, withEra(text, ts.getYear())};
    }));
    c.add(new Case(t("timestamptz", -1), r -> {
      LocalDateTime local = LocalDateTime.of(randomDate(r), java.time.LocalTime.ofNanoOfDay(r.nextLong(86_400_000_000L) * 1000));
      int offMinutes = (r.nextInt(29) - 14) * 60 + (r.nextBoolean() ? 30 : 0);
      ZoneOffset off = ZoneOffset.ofTotalSeconds(offMinutes * 60);
      String offText = (offMinutes < 0 ? "-" : "+") + String.format("%02d", Math.abs(offMinutes) / 60)
          + (Math.abs(offMinutes) % 60 == 0 ? "" : String.format(":%02d", Math.abs(offMinutes) % 60));
      String text = dateText(local.toLocalDate()) + " " + String.format("%02d:%02d:%02d", local.getHour(), local.getMinute(),
          local.getSecond()) + fraction(local.getNano()) + offText;
      Instant expected = local.toInstant(off);
      return new Object[] {expected, withEra(text, local.getYear())};
    }));
    c.add(new Case(array("int4"), r -> {
      int a = r.nextInt();
      int b = r.nextInt();
      return new Object[] {"[" + a + "," + b + ",null]", "{" + a + "," + b + ",NULL}"};
    }));
    c.add(new Case(array("text"), r -> {
      return new Object[] {"[\"a b\",\"c\\\"d\",\"e\\\\f\",\"NULL\",null,\"x,y\"]",
          "{\"a b\",\"c\\\"d\",\"e\\\\f\",\"NULL\",NULL,\"x,y\"}"};
    }));
    c.add(new Case(array("float8"), r -> new Object[] {"[[1.5,\"NaN\"],[-2,\"Infinity\"]]", "{{1.5,NaN},{-2,Infinity}}"}));
    c.add(new Case(array("bool"), r -> new Object[] {"[true,false]", "[0:1]={t,f}"}));
    c.add(new Case(array("jsonb"), r -> new Object[] {"[{\"k\": 1},[2]]", "{\"{\\\"k\\\": 1}\",\"[2]\"}"}));
    return c;
  }

  static String randomString(Random r) {
    StringBuilder sb = new StringBuilder();
    int n = r.nextInt(30);
    for (int i = 0; i < n; i++) {
      int kind = r.nextInt(4);
      sb.appendCodePoint(kind == 0 ? 0x20 + r.nextInt(95) : kind == 1 ? 0xE0 + r.nextInt(200) : kind == 2 ? 0x1F600 + r.nextInt(50) : 'a');
    }
    return sb.toString();
  }

  @Test
  void everySupportedTypeRoundTripsThroughTupleBytes() {
    long seed = Long.getLong("tidesync.seed", new Random().nextLong());
    Random r = new Random(seed);
    List<Case> cases = cases();
    for (int iteration = 0; iteration < 300; iteration++) {
      Object[][] generated = new Object[cases.size()][];
      Object[] texts = new Object[cases.size()];
      for (int i = 0; i < cases.size(); i++) {
        generated[i] = cases.get(i).gen().apply(r);
        texts[i] = r.nextInt(15) == 0 ? null : generated[i][1];
      }
      PgOutputDecoderTest.Msg m = new PgOutputDecoderTest.Msg('I').i32(1).b('N').tuple(texts);
      Insert ins = (Insert) PgOutputDecoder.decode(m.buf(), false);
      for (int i = 0; i < cases.size(); i++) {
        PgType type = cases.get(i).type();
        String context = "seed " + seed + " (replay with -Dtidesync.seed=" + seed + "), iteration " + iteration
            + ", type " + type.sqlName() + ", text '" + texts[i] + "'";
        if (texts[i] == null) {
          assertThat(ins.newTuple().kinds()[i]).as(context).isEqualTo((byte) 'n');
          continue;
        }
        Object parsed = TextValues.parse(type, new String(ins.newTuple().values()[i], StandardCharsets.UTF_8));
        Object expected = generated[i][0];
        if (expected instanceof byte[] b) {
          assertThat((byte[]) parsed).as(context).isEqualTo(b);
        } else if (expected instanceof BigDecimal d) {
          assertThat((BigDecimal) parsed).as(context).isEqualByComparingTo(d);
        } else {
          assertThat(parsed).as(context).isEqualTo(expected);
        }
      }
    }
  }

  @Test
  void infiniteDatesAndNonFiniteDecimalsAreClearErrors() {
    assertThatThrownBy(() -> TextValues.parse(t("date", -1), "infinity")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("date 'infinity' is infinite and has no DATE form");
    assertThatThrownBy(() -> TextValues.parse(t("timestamptz", -1), "-infinity")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timestamptz '-infinity' is infinite and has no TIMESTAMP form");
    assertThatThrownBy(() -> TextValues.parse(t("numeric", ((10 << 16) | 2) + 4), "NaN"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("value 'NaN' of type numeric has no DECIMAL form (NaN and Infinity do not fit)");
  }

  @Test
  void typeMappingDecisions() {
    assertThat(t("numeric", ((12 << 16) | 3) + 4).logical().toString()).isEqualTo("numeric");
    assertThat(t("numeric", ((12 << 16) | 3) + 4).logical().precision()).isEqualTo(12);
    assertThat(t("numeric", -1).logical().kind()).isEqualTo(io.tidesync.spi.LogicalType.Kind.STRING);
    assertThat(t("numeric", ((50 << 16) | 2) + 4).logical().kind()).isEqualTo(io.tidesync.spi.LogicalType.Kind.STRING);
    assertThat(t("time", -1).logical().kind()).isEqualTo(io.tidesync.spi.LogicalType.Kind.STRING);
    assertThat(t("point", -1)).isNull();
    assertThat(Arrays.asList(t("bytea", -1).logical().kind(), array("int4").logical().kind()))
        .containsExactly(io.tidesync.spi.LogicalType.Kind.BINARY, io.tidesync.spi.LogicalType.Kind.JSON);
  }
}
