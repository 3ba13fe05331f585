package dev.fulcrum.core.tensor;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;

/**
 * The tensor element types of the Open Inference Protocol, plus Triton's BF16.
 *
 * <p>Names are the protocol's ({@code FP32}); {@link #configName()} gives Triton's model
 * configuration spelling ({@code TYPE_FP32}, and {@code TYPE_STRING} for BYTES).
 */
public enum DataType {
  BOOL(1),
  UINT8(1),
  UINT16(2),
  UINT32(4),
  UINT64(8),
  INT8(1),
  INT16(2),
  INT32(4),
  INT64(8),
  FP16(2),
  BF16(2),
  FP32(4),
  FP64(8),
  /** Variable-length byte strings; on the wire each element is a u32 LE length, then bytes. */
  BYTES(-1);

  /** {@link #values()} once: each call of it clones the array (once per decoded input). */
  private static final DataType[] ALL = values();

  private final int byteSize;

  DataType(int byteSize) {
    this.byteSize = byteSize;
  }

  /** Bytes per element, or -1 for {@link #BYTES}. */
  public int byteSize() {
    return byteSize;
  }

  public boolean isFixedSize() {
    return byteSize > 0;
  }

  /** True for FP16, BF16, FP32 and FP64, whose elements may be NaN or ±Infinity. */
  public boolean isFloatingPoint() {
    return this == FP16 || this == BF16 || this == FP32 || this == FP64;
  }

  /** True for FP16 and BF16, which JSON cannot carry and travel as binary only. */
  public boolean isBinaryOnly() {
    return this == FP16 || this == BF16;
  }

  /** Triton's model configuration name, e.g. {@code TYPE_FP32}; BYTES is {@code TYPE_STRING}. */
  public String configName() {
    return this == BYTES ? "TYPE_STRING" : "TYPE_" + name();
  }

  /** Parses a protocol datatype name such as {@code FP32} (case-sensitive, as the spec). */
  public static Optional<DataType> fromProtocolName(String name) {
    if (name == null) {
      return Optional.empty();
    }
    for (DataType t : ALL) {
      if (t.name().equals(name)) {
        return Optional.of(t);
      }
    }
    return Optional.empty();
  }

  /**
   * Parses either spelling: {@code FP32}, {@code TYPE_FP32} or {@code TYPE_STRING}, ignoring case.
   * Used for configuration files.
   */
  public static Optional<DataType> fromAnyName(String name) {
    if (name == null) {
      return Optional.empty();
    }
    String n = name.trim().toUpperCase(Locale.ROOT);
    if (n.equals("TYPE_STRING") || n.equals("STRING")) {
      return Optional.of(BYTES);
    }
    if (n.startsWith("TYPE_")) {
      n = n.substring(5);
    }
    return fromProtocolName(n);
  }

  /** The protocol names of all types, for error messages. */
  public static String allNames() {
    return Arrays.toString(values());
  }
}
