package dev.fulcrum.runtime.onnx;

import static dev.fulcrum.testkit.SklearnModels.FLOAT_INPUT;
import static dev.fulcrum.testkit.SklearnModels.OUTPUT_LABEL;
import static dev.fulcrum.testkit.SklearnModels.OUTPUT_PROBABILITY;
import static dev.fulcrum.testkit.SklearnModels.PROBABILITIES;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import dev.fulcrum.testkit.SklearnModels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * scikit-learn classifiers as skl2onnx converts them: ZipMap's {@code seq(map(label, float))} is
 * served as FP32 [rows, classes] holding the same numbers as the tensor before the ZipMap.
 */
class ProbabilityMapsTest {
  @TempDir static Path repo;
  private static OnnxRuntimeBackend backend;

  private static final float[][] ROWS = {{0.5f, -1f, 2f, 0f}, {-3f, 0.25f, 1f, 4f}};

  @BeforeAll
  static void writeModels() throws Exception {
    SklearnModels.write(repo, "zipmap", true, false);
    SklearnModels.write(repo, "zipmap_strings", true, true);
    SklearnModels.write(repo, "no_zipmap", false, false);
    backend = new OnnxRuntimeBackend();
  }

  @AfterAll
  static void closeBackend() {
    backend.close();
  }

  private static ModelInstance load(String name) throws Exception {
    return backend.load(repo.resolve(name).resolve("1"), SessionOptions.defaults());
  }

  private static Tensor input() {
    ByteBuffer b = ByteBuffer.allocate(ROWS.length * 4 * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float[] row : ROWS) {
      for (float v : row) {
        b.putFloat(v);
      }
    }
    return Tensor.of(FLOAT_INPUT, DataType.FP32, new long[] {ROWS.length, 4}, b.flip());
  }

  private static void assertProbabilities(Tensor t) {
    assertThat(t.datatype()).isEqualTo(DataType.FP32);
    assertThat(t.shape()).containsExactly(ROWS.length, 3);
    ByteBuffer b = t.data().order(ByteOrder.LITTLE_ENDIAN);
    for (float[] row : ROWS) {
      for (float want : SklearnModels.expected(row)) {
        assertThat(b.getFloat()).isCloseTo(want, within(1e-6f));
      }
    }
  }

  @Test
  void zipMapProbabilitiesAreServedAsAnFp32TensorOfRowsByClasses() throws Exception {
    try (ModelInstance m = load("zipmap")) {
      assertThat(m.signature().outputs())
          .containsExactly(
              new TensorSpec(OUTPUT_LABEL, DataType.INT64, new long[] {-1}),
              new TensorSpec(OUTPUT_PROBABILITY, DataType.FP32, new long[] {-1, -1}));
      List<Tensor> out = m.execute(List.of(input()), List.of(OUTPUT_PROBABILITY, OUTPUT_LABEL));
      assertProbabilities(out.get(0));
      assertThat(out.get(1).shape()).containsExactly(ROWS.length);
    }
  }

  @Test
  void theSameNumbersAsTheModelConvertedWithoutZipMap() throws Exception {
    try (ModelInstance zip = load("zipmap");
        ModelInstance plain = load("no_zipmap")) {
      Tensor a = zip.execute(List.of(input()), List.of(OUTPUT_PROBABILITY)).get(0);
      Tensor b = plain.execute(List.of(input()), List.of(PROBABILITIES)).get(0);
      assertThat(a.data()).isEqualTo(b.data());
      assertThat(a.shape()).isEqualTo(b.shape());
    }
  }

  @Test
  void stringLabelsGiveColumnsInTheLabelsOrderAndAStringLabel() throws Exception {
    try (ModelInstance m = load("zipmap_strings")) {
      assertThat(m.signature().outputs())
          .containsExactly(
              new TensorSpec(OUTPUT_LABEL, DataType.BYTES, new long[] {-1}),
              new TensorSpec(OUTPUT_PROBABILITY, DataType.FP32, new long[] {-1, -1}));
      List<Tensor> out = m.execute(List.of(input()), List.of(OUTPUT_PROBABILITY, OUTPUT_LABEL));
      assertProbabilities(out.get(0));
      List<String> labels =
          out.get(1).bytesElements().stream()
              .map(e -> new String(e, StandardCharsets.UTF_8))
              .toList();
      for (int r = 0; r < ROWS.length; r++) {
        float[] p = SklearnModels.expected(ROWS[r]);
        int best = 0;
        for (int c = 1; c < p.length; c++) {
          best = p[c] > p[best] ? c : best;
        }
        assertThat(labels.get(r)).isEqualTo(SklearnModels.STRING_LABELS.get(best));
      }
    }
  }

  @Test
  void aPassOfNoRowsGivesAnEmptyTensor() throws Exception {
    try (ModelInstance m = load("zipmap")) {
      Tensor empty =
          Tensor.of(FLOAT_INPUT, DataType.FP32, new long[] {0, 4}, ByteBuffer.allocate(0));
      Tensor out = m.execute(List.of(empty), List.of(OUTPUT_PROBABILITY)).get(0);
      assertThat(out.elementCount()).isZero();
    }
  }
}
