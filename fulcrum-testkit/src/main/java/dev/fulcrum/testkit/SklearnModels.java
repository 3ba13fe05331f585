package dev.fulcrum.testkit;

import static dev.fulcrum.testkit.onnx.OnnxModelBuilder.floatsAttr;
import static dev.fulcrum.testkit.onnx.OnnxModelBuilder.intAttr;
import static dev.fulcrum.testkit.onnx.OnnxModelBuilder.intsAttr;
import static dev.fulcrum.testkit.onnx.OnnxModelBuilder.stringAttr;
import static dev.fulcrum.testkit.onnx.OnnxModelBuilder.stringsAttr;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A scikit-learn logistic regression as skl2onnx converts it (its node names, domains and
 * attributes): FP32 {@code float_input} [N, 4] -> LinearClassifier (LOGISTIC) -> Normalizer (L1) ->
 * {@code output_label} [N] and the class probabilities, either as ZipMap's {@code
 * output_probability}, {@code seq(map(int64, float))} (skl2onnx's default), or as the FP32 tensor
 * {@code probabilities} [N, 3] ({@code zipmap=False}). Three classes labelled 0, 1, 2 ({@link
 * #expected} computes their probabilities), or, with string labels, "ant", "bee", "cat" (label
 * output STRING).
 *
 * <p>Stateless and thread-safe.
 */
public final class SklearnModels {
  /** The input's name, as skl2onnx names it. */
  public static final String FLOAT_INPUT = "float_input";

  /** The predicted class's label. */
  public static final String OUTPUT_LABEL = "output_label";

  /** ZipMap's output: one map of class label to probability per row. */
  public static final String OUTPUT_PROBABILITY = "output_probability";

  /** The probabilities as a tensor, when the model was converted with {@code zipmap=False}. */
  public static final String PROBABILITIES = "probabilities";

  /** The string class labels of {@link #logisticRegression(boolean, boolean)}'s string variant. */
  public static final List<String> STRING_LABELS = List.of("ant", "bee", "cat");

  private static final float[] COEFFICIENTS = {
    1f, 0f, 0f, 0.5f, //
    0f, 1f, 0f, -0.5f, //
    0f, 0f, 1f, 0.25f
  };
  private static final float[] INTERCEPTS = {0.1f, -0.2f, 0.3f};
  private static final long D = OnnxModelBuilder.DYNAMIC;

  private SklearnModels() {}

  /**
   * The model's bytes.
   *
   * @param zipMap probabilities as ZipMap's {@code seq(map)}, else as an FP32 tensor
   * @param stringLabels labels "ant", "bee", "cat" (STRING outputs and map keys), else 0, 1, 2
   */
  public static byte[] logisticRegression(boolean zipMap, boolean stringLabels) {
    OnnxModelBuilder b =
        OnnxModelBuilder.create("logistic_regression")
            .opset(15)
            .input(FLOAT_INPUT, DataType.FP32, D, 4)
            .mlNode(
                "LinearClassifier",
                List.of(FLOAT_INPUT),
                List.of("label", "probability_tensor"),
                stringLabels
                    ? stringsAttr("classlabels_strings", STRING_LABELS.toArray(String[]::new))
                    : intsAttr("classlabels_ints", 0, 1, 2),
                floatsAttr("coefficients", COEFFICIENTS),
                floatsAttr("intercepts", INTERCEPTS),
                intAttr("multi_class", 1),
                stringAttr("post_transform", "LOGISTIC"))
            .mlNode(
                "Normalizer",
                List.of("probability_tensor"),
                List.of(zipMap ? "probabilities_l1" : PROBABILITIES),
                stringAttr("norm", "L1"));
    if (stringLabels) {
      b.node("Identity", List.of("label"), List.of(OUTPUT_LABEL))
          .output(OUTPUT_LABEL, DataType.BYTES, D);
    } else {
      b.node("Cast", List.of("label"), List.of(OUTPUT_LABEL), intAttr("to", 7))
          .output(OUTPUT_LABEL, DataType.INT64, D);
    }
    if (zipMap) {
      b.mlNode(
              "ZipMap",
              List.of("probabilities_l1"),
              List.of(OUTPUT_PROBABILITY),
              stringLabels
                  ? stringsAttr("classlabels_strings", STRING_LABELS.toArray(String[]::new))
                  : intsAttr("classlabels_int64s", 0, 1, 2))
          .probabilityMapsOutput(
              OUTPUT_PROBABILITY, stringLabels ? DataType.BYTES : DataType.INT64);
    } else {
      b.output(PROBABILITIES, DataType.FP32, D, 3);
    }
    return b.build();
  }

  /** Writes {@link #logisticRegression} to {@code <dir>/<name>/1/model.onnx}. */
  public static Path write(Path dir, String name, boolean zipMap, boolean stringLabels)
      throws IOException {
    Path version = Files.createDirectories(dir.resolve(name).resolve(TestModels.VERSION));
    return Files.write(
        version.resolve(TestModels.MODEL_FILENAME), logisticRegression(zipMap, stringLabels));
  }

  /**
   * The probabilities of the three classes for one row of four features, as ONNX Runtime computes
   * them: the logistic of each class's score, divided by their sum.
   */
  public static float[] expected(float[] row) {
    float[] p = new float[3];
    float sum = 0;
    for (int c = 0; c < 3; c++) {
      float score = INTERCEPTS[c];
      for (int f = 0; f < 4; f++) {
        score += COEFFICIENTS[c * 4 + f] * row[f];
      }
      p[c] = (float) (1 / (1 + Math.exp(-score)));
      sum += p[c];
    }
    for (int c = 0; c < 3; c++) {
      p[c] /= sum;
    }
    return p;
  }
}
