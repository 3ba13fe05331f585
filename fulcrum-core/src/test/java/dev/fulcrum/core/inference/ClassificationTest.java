package dev.fulcrum.core.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClassificationTest {

  @Test
  void eachRowsTopKBestFirstTiesToTheLowerIndexNanLast() {
    Tensor t = fp32(new long[] {2, 4}, 0.1f, Float.NaN, 0.7f, 0.7f, -2f, -1f, -3f, Float.NaN);
    Tensor top = Classification.topK(t, 3, true);
    assertThat(top.datatype()).isEqualTo(DataType.BYTES);
    assertThat(top.shape()).containsExactly(2, 3);
    assertThat(strings(top))
        .containsExactly(
            "0.700000:2", "0.700000:3", "0.100000:0", "-1.000000:1", "-2.000000:0", "-3.000000:2");
  }

  @Test
  void kIsCutToTheClassesAndANonBatchingModelRanksTheWholeOutput() {
    Tensor t = fp32(new long[] {2, 2}, 1f, 4f, 3f, 2f);
    Tensor top = Classification.topK(t, 10, false);
    assertThat(top.shape()).containsExactly(4);
    assertThat(strings(top))
        .containsExactly("4.000000:1", "3.000000:2", "2.000000:3", "1.000000:0");
  }

  @Test
  void integersAreWrittenExactlyAndUint64RanksUnsigned() {
    ByteBuffer b = ByteBuffer.allocateDirect(3 * 8).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(5).putLong(-1).putLong(Long.MAX_VALUE).flip();
    Tensor u = Tensor.of("OUT", DataType.UINT64, new long[] {1, 3}, b);
    assertThat(strings(Classification.topK(u, 2, true)))
        .containsExactly("18446744073709551615:1", "9223372036854775807:2");
    ByteBuffer c = ByteBuffer.allocateDirect(3 * 4).order(ByteOrder.LITTLE_ENDIAN);
    c.putInt(-7).putInt(3).putInt(0).flip();
    Tensor i = Tensor.of("OUT", DataType.INT32, new long[] {1, 3}, c);
    assertThat(strings(Classification.topK(i, 1, true))).containsExactly("3:1");
    assertThat(ElementCodec.isIntegral(DataType.BOOL)).isTrue();
  }

  @Test
  void theCountIsAnIntegerFrom1To65536AsNumberOrString() {
    assertThat(Classification.requested(out(Map.of()))).isEmpty();
    assertThat(Classification.requested(out(Map.of("classification", 3L)))).hasValue(3);
    assertThat(Classification.requested(out(Map.of("classification", " 7 ")))).hasValue(7);
    assertThat(Classification.requested(out(Map.of("classification", 65536L)))).hasValue(65536);
    for (Object bad : List.<Object>of(0L, -1L, 65537L, "x", 2.5, true)) {
      assertThatThrownBy(() -> Classification.requested(out(Map.of("classification", bad))))
          .isInstanceOfSatisfying(
              InferenceException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
          .hasMessageContaining("output 'OUT'")
          .hasMessageContaining("1..65536");
    }
  }

  @Test
  void applyReplacesOnlyTheOutputsThatAskedAndKeepsTheRest() {
    Tensor scores = fp32(new long[] {1, 3}, 0.2f, 0.5f, 0.3f);
    Tensor other = fp32(new long[] {1, 1}, 9f).renamed("LABEL");
    InferenceRequest request =
        new InferenceRequest(
            "m",
            "",
            "r1",
            Map.of(),
            List.of(),
            List.of(out(Map.of("classification", 1L)), new RequestedOutput("LABEL", Map.of())),
            RequestOptions.NONE);
    InferenceResponse answered =
        Classification.apply(
            request,
            new InferenceResponse("m", "1", "r1", Map.of(), List.of(scores, other)),
            true,
            ClassLabels.of(Map.of("OUT", List.of("cat", "dog", "bird"))));
    assertThat(answered.id()).isEqualTo("r1");
    assertThat(strings(answered.outputs().get(0))).containsExactly("0.500000:1:dog");
    assertThat(answered.outputs().get(1)).isSameAs(other);
  }

  @Test
  void manyClassesAreRankedAsFewAre() {
    // Past 8 classes a row is sorted once instead of scanned k times: the same order.
    float[] values = new float[40];
    for (int i = 0; i < values.length; i++) {
      values[i] = (i * 7) % 13; // ties in every value
    }
    values[5] = Float.NaN;
    Tensor t = fp32(new long[] {1, 40}, values);
    List<String> sorted = strings(Classification.topK(t, 40, true));
    for (int k = 1; k <= 8; k++) {
      assertThat(strings(Classification.topK(t, k, true))).isEqualTo(sorted.subList(0, k));
    }
    assertThat(sorted).hasSize(40).endsWith("NaN:5");
    assertThat(sorted.subList(0, 3))
        .containsExactly("12.000000:11", "12.000000:24", "12.000000:37");
  }

  @Test
  void labelsNameTheClassesTheyHaveAsTritonDoes() {
    // Line i names class i; a class past the file's lines or on an empty line has no ":label".
    Tensor t = fp32(new long[] {2, 4}, 0.1f, 0.7f, 0.2f, 0.9f, 0.5f, 0.25f, 0.25f, 0f);
    List<String> labels = List.of("cat", "dog", "");
    assertThat(strings(Classification.topK(t, 3, true, labels)))
        .containsExactly(
            "0.900000:3",
            "0.700000:1:dog",
            "0.200000:2",
            "0.500000:0:cat",
            "0.250000:1:dog",
            "0.250000:2");
    assertThat(strings(Classification.topK(t, 1, true, null)))
        .containsExactly("0.900000:3", "0.500000:0");
  }

  @Test
  void aLabelsFileIsReadLineByLineWithoutCarriageReturns(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("labels.txt");
    Files.write(file, "cat\r\ndög\n\nbird".getBytes(StandardCharsets.UTF_8));
    assertThat(ClassLabels.read(file)).containsExactly("cat", "dög", "", "bird");
    ClassLabels byOutput = ClassLabels.of(Map.of("OUT", ClassLabels.read(file)));
    assertThat(byOutput.forOutput("OUT")).hasSize(4);
    assertThat(byOutput.forOutput("OTHER")).isNull();
    assertThat(ClassLabels.of(Map.of())).isSameAs(ClassLabels.NONE);
  }

  @Test
  void bytesHaveNothingToRank() {
    Tensor t = Tensor.ofBytes("OUT", new long[] {1, 1}, List.of(new byte[] {1}));
    assertThatThrownBy(() -> Classification.topK(t, 1, true))
        .isInstanceOf(InferenceException.class)
        .hasMessageContaining("BYTES");
  }

  private static RequestedOutput out(Map<String, Object> parameters) {
    return new RequestedOutput("OUT", parameters);
  }

  private static Tensor fp32(long[] shape, float... values) {
    ByteBuffer b = ByteBuffer.allocateDirect(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    b.flip();
    return Tensor.of("OUT", DataType.FP32, shape, b);
  }

  private static List<String> strings(Tensor t) {
    ByteBuffer b = t.data();
    List<String> out = new ArrayList<>();
    while (b.hasRemaining()) {
      byte[] e = new byte[b.getInt()];
      b.get(e);
      out.add(new String(e, StandardCharsets.UTF_8));
    }
    return out;
  }
}
