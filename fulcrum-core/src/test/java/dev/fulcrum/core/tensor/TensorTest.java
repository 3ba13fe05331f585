package dev.fulcrum.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.inference.InferenceException;
import java.nio.ByteBuffer;
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
}
