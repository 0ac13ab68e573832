package io.tidesync.testkit;

import java.math.BigDecimal;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;

/** Equality of canonical values as tests need it: byte[] by content, decimals by value, NaN equal to NaN. */
public final class FixtureValues {
  private FixtureValues() {}

  public static boolean sameValue(Object a, Object b) {
    if (a instanceof byte[] x && b instanceof byte[] y) {
      return Arrays.equals(x, y);
    }
    if (a instanceof BigDecimal x && b instanceof BigDecimal y) {
      return x.compareTo(y) == 0;
    }
    return Objects.equals(a, b);
  }

  public static boolean sameRow(Map<String, Object> a, Map<String, Object> b) {
    if (!a.keySet().equals(b.keySet())) {
      return false;
    }
    for (Map.Entry<String, Object> e : a.entrySet()) {
      if (!sameValue(e.getValue(), b.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }
}
