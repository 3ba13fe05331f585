package dev.fulcrum.server.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link PredictJson#recordLines}: one line per row, every output by name, as predictions. */
class PredictJsonRecordLinesTest {
  private static Tensor fp32(String name, long[] shape, float... v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : v) {
      b.putFloat(f);
    }
    return Tensor.of(name, DataType.FP32, shape, b.flip());
  }

  private static Tensor int64(String name, long[] shape, long... v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (long l : v) {
      b.putLong(l);
    }
    return Tensor.of(name, DataType.INT64, shape, b.flip());
  }

  private static String lines(InferenceResponse r, int rows) {
    ByteBuf b = PredictJson.recordLines(r, rows, UnpooledByteBufAllocator.DEFAULT);
    try {
      return b.toString(StandardCharsets.UTF_8);
    } finally {
      b.release();
    }
  }

  @Test
  void eachRowIsARecordOfEveryOutputOnALine() {
    InferenceResponse r =
        new InferenceResponse(
            "m",
            "1",
            "",
            Map.of(),
            List.of(
                fp32("probabilities", new long[] {2, 2}, 0.25f, 0.75f, 1f, 0f),
                int64("label", new long[] {2}, 1, 0)));
    assertThat(lines(r, 2))
        .isEqualTo(
            "{\"probabilities\":[0.25,0.75],\"label\":1}\n"
                + "{\"probabilities\":[1.0,0.0],\"label\":0}\n");
    InferenceResponse one =
        new InferenceResponse(
            "m", "1", "", Map.of(), List.of(int64("label", new long[] {1, 1}, 7)));
    assertThat(lines(one, 1)).isEqualTo("{\"label\":[7]}\n");
  }

  @Test
  void anOutputThatDoesNotSplitIntoTheRowsIsTheServersError() {
    InferenceResponse r =
        new InferenceResponse(
            "m", "1", "", Map.of(), List.of(int64("label", new long[] {3}, 1, 0, 1)));
    assertThatThrownBy(() -> lines(r, 2))
        .isInstanceOf(InferenceException.class)
        .hasMessageContaining("does not split into the request's 2 rows");
  }
}
