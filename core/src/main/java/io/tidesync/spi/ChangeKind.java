package io.tidesync.spi;

/**
 * What happened to a row, with the names Delta's Change Data Feed and Lakebase use for
 * {@code _change_type}.
 */
public enum ChangeKind {
  INSERT("insert"),
  UPDATE_PREIMAGE("update_preimage"),
  UPDATE_POSTIMAGE("update_postimage"),
  DELETE("delete");

  private static final ChangeKind[] BY_CODE = values();
  private final String cdfName;

  ChangeKind(String cdfName) {
    this.cdfName = cdfName;
  }

  /** The name as it appears in a {@code _change_type} column. */
  public String cdfName() {
    return cdfName;
  }

  /** Stable code stored in batches ({@code ordinal()}); see {@link #ofCode(int)}. */
  public byte code() {
    return (byte) ordinal();
  }

  public static ChangeKind ofCode(int code) {
    return BY_CODE[code];
  }

  /** Parses a {@code _change_type} value; throws {@link IllegalArgumentException} for others. */
  public static ChangeKind ofCdfName(String name) {
    for (ChangeKind k : BY_CODE) {
      if (k.cdfName.equals(name)) {
        return k;
      }
    }
    throw new IllegalArgumentException("unknown change type '" + name + "'");
  }

  /** True for the kinds that carry the row's state after the change. */
  public boolean isAfterImage() {
    return this == INSERT || this == UPDATE_POSTIMAGE;
  }
}
