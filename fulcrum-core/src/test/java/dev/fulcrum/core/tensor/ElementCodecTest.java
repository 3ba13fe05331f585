package dev.fulcrum.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ElementCodecTest {
  private static final Set<DataType> INTEGRAL =
      EnumSet.of(
          DataType.BOOL,
          DataType.UINT8,
          DataType.UINT16,
          DataType.UINT32,
          DataType.UINT64,
          DataType.INT8,
          DataType.INT16,
          DataType.INT32,
          DataType.INT64);

  private static ByteBuffer buffer(DataType t, int n) {
    return ByteBuffer.allocate(n * t.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
  }

  @ParameterizedTest
  @EnumSource(
      value = DataType.class,
      names = {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"})
  void integralTypesRoundTripTheirEdgeValues(DataType t) {
    long[] values = {ElementCodec.min(t), ElementCodec.max(t), 0, 1};
    ByteBuffer b = buffer(t, values.length);
    for (int i = 0; i < values.length; i++) {
      ElementCodec.putLong(t, b, i, values[i]);
    }
    for (int i = 0; i < values.length; i++) {
      assertThat(ElementCodec.getLong(t, b, i)).as("%s[%d]", t, i).isEqualTo(values[i]);
    }
    assertThat(b.position()).isZero();
    assertThat(ElementCodec.isIntegral(t)).isTrue();
  }

  @Test
  void rangesAreTheTypesOwn() {
    assertThat(ElementCodec.min(DataType.INT8)).isEqualTo(-128);
    assertThat(ElementCodec.max(DataType.UINT8)).isEqualTo(255);
    assertThat(ElementCodec.max(DataType.UINT32)).isEqualTo(4_294_967_295L);
    assertThat(ElementCodec.inRange(DataType.INT16, 32768)).isFalse();
    assertThat(ElementCodec.inRange(DataType.INT16, -32768)).isTrue();
    assertThat(ElementCodec.inRange(DataType.UINT16, -1)).isFalse();
    assertThat(ElementCodec.inRange(DataType.BOOL, 2)).isFalse();
    assertThat(ElementCodec.inRange(DataType.UINT64, -1)).isTrue();
    assertThatThrownBy(() -> ElementCodec.min(DataType.FP32))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theLayoutIsLittleEndianWhateverTheBuffersOrder() {
    ByteBuffer big = ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN);
    ElementCodec.putLong(DataType.INT32, big, 1, 0x01020304);
    assertThat(big.get(4)).isEqualTo((byte) 4);
    assertThat(big.get(7)).isEqualTo((byte) 1);
    assertThat(ElementCodec.getLong(DataType.INT32, big, 1)).isEqualTo(0x01020304);
    ByteBuffer little = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    little.putLong(0, 0x8000_0000_0000_0001L);
    assertThat(ElementCodec.getLong(DataType.UINT64, little, 0)).isEqualTo(0x8000_0000_0000_0001L);
  }

  @Test
  void unsignedTypesAreZeroExtendedAndSignedOnesSignExtended() {
    ByteBuffer b = ByteBuffer.wrap(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF});
    assertThat(ElementCodec.getLong(DataType.UINT8, b, 0)).isEqualTo(255);
    assertThat(ElementCodec.getLong(DataType.INT8, b, 0)).isEqualTo(-1);
    assertThat(ElementCodec.getLong(DataType.UINT16, b, 1)).isEqualTo(65535);
    assertThat(ElementCodec.getLong(DataType.INT16, b, 1)).isEqualTo(-1);
    assertThat(ElementCodec.getLong(DataType.UINT32, b, 0)).isEqualTo(4_294_967_295L);
    assertThat(ElementCodec.getLong(DataType.INT32, b, 0)).isEqualTo(-1);
    assertThat(ElementCodec.getLong(DataType.BOOL, b, 3)).isEqualTo(1);
  }

  @ParameterizedTest
  @EnumSource(
      value = DataType.class,
      names = {"FP16", "BF16", "FP32", "FP64"})
  void floatingTypesRoundTripExactValuesAndNonFinite(DataType t) {
    double[] values = {
      0.0, -0.0, 1.0, -2.5, 0.5, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN
    };
    ByteBuffer b = buffer(t, values.length);
    for (int i = 0; i < values.length; i++) {
      ElementCodec.putDouble(t, b, i, values[i]);
    }
    for (int i = 0; i < values.length; i++) {
      assertThat((Object) ElementCodec.getDouble(t, b, i)).as("%s[%d]", t, i).isEqualTo(values[i]);
    }
    assertThat(ElementCodec.isIntegral(t)).isFalse();
  }

  @Test
  void narrowingRoundsAndOverflowsToInfinity() {
    ByteBuffer b = buffer(DataType.FP32, 3);
    ElementCodec.putDouble(DataType.FP32, b, 0, 0.1);
    ElementCodec.putDouble(DataType.FP32, b, 1, 1e300);
    ElementCodec.putDouble(DataType.FP32, b, 2, -Float.MIN_VALUE);
    assertThat(ElementCodec.getFloat(b, 0)).isEqualTo(0.1f);
    assertThat(ElementCodec.getFloat(b, 1)).isEqualTo(Float.POSITIVE_INFINITY);
    assertThat(ElementCodec.getFloat(b, 2)).isEqualTo(-Float.MIN_VALUE);
    ByteBuffer h = buffer(DataType.FP16, 1);
    ElementCodec.putDouble(DataType.FP16, h, 0, 70000);
    assertThat(ElementCodec.getDouble(DataType.FP16, h, 0)).isEqualTo(Double.POSITIVE_INFINITY);
    ElementCodec.putDouble(DataType.BF16, h, 0, 1.00390625); // halfway: rounds to even (1.0)
    assertThat(ElementCodec.getDouble(DataType.BF16, h, 0)).isEqualTo(1.0);
    ElementCodec.putDouble(DataType.BF16, h, 0, 1.01171875); // halfway: rounds to even (1.015625)
    assertThat(ElementCodec.getDouble(DataType.BF16, h, 0)).isEqualTo(1.015625);
  }

  @Test
  void everyFixedSizeTypeHasOneCarrier() {
    for (DataType t : DataType.values()) {
      if (!t.isFixedSize()) {
        assertThatThrownBy(() -> ElementCodec.getLong(t, ByteBuffer.allocate(8), 0))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ElementCodec.getDouble(t, ByteBuffer.allocate(8), 0))
            .isInstanceOf(IllegalArgumentException.class);
        continue;
      }
      assertThat(ElementCodec.isIntegral(t)).isEqualTo(INTEGRAL.contains(t));
      assertThat(ElementCodec.isIntegral(t)).isNotEqualTo(t.isFloatingPoint());
    }
  }
}
