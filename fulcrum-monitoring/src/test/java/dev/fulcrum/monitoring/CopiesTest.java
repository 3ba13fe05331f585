package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Copies} reads every fixed-size datatype as numbers, half precision included. */
class CopiesTest {
  @Test
  void halfPrecisionValuesAreRead() {
    double[] values = {0.5, -2.25, 65504, 0.1};
    for (DataType type : List.of(DataType.FP16, DataType.BF16)) {
      ByteBuffer b = ByteBuffer.allocate(2 * values.length).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < values.length; i++) {
        ElementCodec.putDouble(type, b, i, values[i]);
      }
      double[] read = Copies.values(Tensor.of("h", type, new long[] {2, 2}, b));
      assertThat(read).as(type.name()).isNotNull().hasSize(4);
      for (int i = 0; i < values.length; i++) {
        assertThat(read[i]).as(type + " " + i).isEqualTo(ElementCodec.getDouble(type, b, i));
      }
      assertThat(read[0]).isEqualTo(0.5);
      assertThat(read[1]).isEqualTo(-2.25);
    }
  }

  @Test
  void boolIsZeroOrOneAndBytesIsNotNumeric() {
    ByteBuffer b = ByteBuffer.wrap(new byte[] {0, 1, 1});
    assertThat(Copies.values(Tensor.of("b", DataType.BOOL, new long[] {3}, b)))
        .containsExactly(0, 1, 1);
    assertThat(Copies.values(Tensor.ofBytes("t", new long[] {1}, List.of(new byte[] {'a'}))))
        .isNull();
  }
}
