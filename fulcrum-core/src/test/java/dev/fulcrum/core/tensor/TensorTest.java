package dev.fulcrum.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.InferenceException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class TensorTest {
  @Test
  void fixedSizeTensorsCheckTheirByteCount() {
    Tensor t = Tensor.of("x", DataType.INT32, new long[] {2, 2}, ByteBuffer.allocate(16));
    assertThat(t.elementCount()).isEqualTo(4);
    assertThatThrownBy(
            () -> Tensor.of("x", DataType.INT32, new long[] {2, 2}, ByteBuffer.allocate(12)))
        .isInstanceOf(InferenceException.class)
        .hasMessageContaining("'x'")
        .hasMessageContaining("needs 16 bytes");
    Tensor scalar = Tensor.of("s", DataType.FP64, new long[] {}, ByteBuffer.allocate(8));
    assertThat(scalar.elementCount()).isEqualTo(1);
  }

  @Test
  void bytesTensorsRoundTripAndRejectTruncation() {
    Tensor t =
        Tensor.ofBytes(
            "s",
            new long[] {2},
            List.of("héllo".getBytes(StandardCharsets.UTF_8), new byte[] {0, (byte) 0xff}));
    assertThat(t.bytesElements()).hasSize(2);
    assertThat(new String(t.bytesElements().get(0), StandardCharsets.UTF_8)).isEqualTo("héllo");
    ByteBuffer bad = ByteBuffer.allocate(6).putInt(Integer.reverseBytes(10)).flip();
    assertThatThrownBy(() -> Tensor.of("s", DataType.BYTES, new long[] {1}, bad))
        .hasMessageContaining("claims 10 bytes");
    assertThatThrownBy(() -> Tensor.ofBytes("s", new long[] {3}, List.of(new byte[0])))
        .hasMessageContaining("needs 3 elements but has 1");
  }

  @Test
  void dataTypesParseBothSpellings() {
    assertThat(DataType.fromAnyName("TYPE_STRING")).contains(DataType.BYTES);
    assertThat(DataType.fromAnyName("type_fp16")).contains(DataType.FP16);
    assertThat(DataType.fromProtocolName("fp32")).isEmpty();
    assertThat(DataType.BYTES.configName()).isEqualTo("TYPE_STRING");
  }

  @Test
  void aByteSizeThatOverflowsIsInvalidArgumentNeverANegativeSize() {
    assertThatThrownBy(
            () ->
                Tensor.of(
                    "x",
                    DataType.FP32,
                    new long[] {1, 4611686018427387912L},
                    ByteBuffer.allocate(4)))
        .isInstanceOf(InferenceException.class)
        .hasMessageContaining("'x'")
        .hasMessageContaining("too large")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("-"));
  }

  @Test
  void bytesTensorsAreBoundedInElements() {
    int n = (int) Tensor.MAX_BYTES_ELEMENTS + 1;
    ByteBuffer empty = ByteBuffer.allocate(4 * n); // n empty elements: all lengths 0
    assertThatThrownBy(() -> Tensor.of("s", DataType.BYTES, new long[] {n}, empty))
        .isInstanceOf(InferenceException.class)
        .hasMessageContaining("'s'")
        .hasMessageContaining("limit");
    assertThatThrownBy(() -> Tensor.of("s", DataType.BYTES, new long[] {1}, empty))
        .as("more elements in the data than the shape says")
        .isInstanceOf(InferenceException.class)
        .hasMessageContaining("more than");
  }

  @Test
  void firstNonFiniteFindsNanAndInfinityInEveryFloatingPointType() {
    ByteBuffer fp32 = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
    fp32.putFloat(1).putFloat(Float.MAX_VALUE).putFloat(Float.NaN).flip();
    assertThat(Tensor.of("f", DataType.FP32, new long[] {3}, fp32).firstNonFinite()).isEqualTo(2);
    ByteBuffer fp32b = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
    fp32b.putFloat(1).putFloat(Float.NEGATIVE_INFINITY).putFloat(0).flip();
    assertThat(Tensor.of("f", DataType.FP32, new long[] {3}, fp32b).firstNonFinite()).isEqualTo(1);
    ByteBuffer fp64 = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
    fp64.putDouble(-Double.MAX_VALUE).putDouble(Double.POSITIVE_INFINITY).flip();
    assertThat(Tensor.of("d", DataType.FP64, new long[] {2}, fp64).firstNonFinite()).isEqualTo(1);
    ByteBuffer fp16 = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    fp16.putShort((short) 0x7BFF).putShort((short) 0xFC00).flip(); // max finite, -Infinity
    assertThat(Tensor.of("h", DataType.FP16, new long[] {2}, fp16).firstNonFinite()).isEqualTo(1);
    ByteBuffer bf16 = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    bf16.putShort((short) 0x7F7F).putShort((short) 0x7FC0).flip(); // max finite, NaN
    assertThat(Tensor.of("b", DataType.BF16, new long[] {2}, bf16).firstNonFinite()).isEqualTo(1);
    ByteBuffer finite = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    finite.putFloat(Float.MIN_VALUE).putFloat(-0f).flip();
    assertThat(Tensor.of("f", DataType.FP32, new long[] {2}, finite).firstNonFinite())
        .isEqualTo(-1);
    ByteBuffer ints = ByteBuffer.allocate(4).putInt(-1).flip();
    assertThat(Tensor.of("i", DataType.INT32, new long[] {1}, ints).firstNonFinite()).isEqualTo(-1);
  }
}
