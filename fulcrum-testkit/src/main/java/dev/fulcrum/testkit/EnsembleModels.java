package dev.fulcrum.testkit;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A Triton ensemble of two real ONNX models, as a team moving off Triton has one: a preprocessing
 * model {@code scale} (FP32 {@code RAW} [n, 4] to {@code SCALED} = RAW × 2 − 1) feeding a linear
 * classifier {@code classify} ({@code FEATURES} [n, 4] to {@code SCORES} [n, 3] = FEATURES · W and
 * {@code LABEL} INT64 [n, 1], the best class), and the ensemble {@code scale_classify} over them,
 * configured by Triton's config.pbtxt ({@code platform: "ensemble"}, {@code ensemble_scheduling})
 * or, as {@code scale_classify_yaml}, by Fulcrum's config.yaml; and a later {@code scale} whose
 * output is FP64 ({@link #scaleFp64}), a reload of it that the ensemble no longer fits. Stateless.
 */
public final class EnsembleModels {
  public static final String SCALE = "scale";
  public static final String CLASSIFY = "classify";
  public static final String ENSEMBLE = "scale_classify";
  public static final String ENSEMBLE_YAML = "scale_classify_yaml";

  /** The ensemble's input and outputs. */
  public static final String INPUT = "INPUT";

  public static final String SCORES = "SCORES";
  public static final String LABEL = "LABEL";

  /** The classifier's weights, [4, 3] row-major. */
  static final float[] WEIGHTS = {1, 0, -1, 0, 1, 0, -1, 0, 1, 0.5f, 0.5f, 0.5f};

  private static final long D = OnnxModelBuilder.DYNAMIC;

  private EnsembleModels() {}

  /** Writes the demo's ensemble: argument the repository (default {@code demo/ensemble}). */
  public static void main(String[] args) throws IOException {
    Path repo = write(Path.of(args.length > 0 ? args[0] : "demo/ensemble"));
    System.out.println("wrote " + repo + ": " + List.of(SCALE, CLASSIFY, ENSEMBLE, ENSEMBLE_YAML));
  }

  /** The preprocessing model: SCALED = RAW * 2 - 1. */
  public static OnnxModelBuilder scale() {
    return OnnxModelBuilder.create(SCALE)
        .input("RAW", DataType.FP32, D, 4)
        .output("SCALED", DataType.FP32, D, 4)
        .floatInitializer("two", new long[0], 2f)
        .floatInitializer("one", new long[0], 1f)
        .node("Mul", List.of("RAW", "two"), List.of("doubled"))
        .node("Sub", List.of("doubled", "one"), List.of("SCALED"));
  }

  /**
   * A later {@code scale} as a team's change of the preprocessing model makes one: the same
   * computation, its output {@code SCALED} cast to FP64, which {@code classify}'s FP32 {@code
   * FEATURES} cannot take ({@link #SCALE_FP64_PBTXT} is its configuration).
   */
  public static OnnxModelBuilder scaleFp64() {
    return OnnxModelBuilder.create(SCALE)
        .input("RAW", DataType.FP32, D, 4)
        .output("SCALED", DataType.FP64, D, 4)
        .floatInitializer("two", new long[0], 2f)
        .floatInitializer("one", new long[0], 1f)
        .node("Mul", List.of("RAW", "two"), List.of("doubled"))
        .node("Sub", List.of("doubled", "one"), List.of("single"))
        .node(
            "Cast",
            List.of("single"),
            List.of("SCALED"),
            OnnxModelBuilder.intAttr("to", OnnxModelBuilder.onnxType(DataType.FP64).getNumber()));
  }

  /** {@code scale}'s config.pbtxt. */
  public static final String SCALE_PBTXT =
      """
      name: "scale"
      platform: "onnxruntime_onnx"
      max_batch_size: 8
      input [ { name: "RAW" data_type: TYPE_FP32 dims: [ 4 ] } ]
      output [ { name: "SCALED" data_type: TYPE_FP32 dims: [ 4 ] } ]
      dynamic_batching { max_queue_delay_microseconds: 100 }
      instance_group [ { count: 1 kind: KIND_CPU } ]
      """;

  /** The config.pbtxt of {@link #scaleFp64}: {@code SCALED} is TYPE_FP64. */
  public static final String SCALE_FP64_PBTXT =
      SCALE_PBTXT.replace("\"SCALED\" data_type: TYPE_FP32", "\"SCALED\" data_type: TYPE_FP64");

  /**
   * Writes {@code model} as {@code scale}'s version {@code version}, with {@code pbtxt} as scale's
   * configuration: a reload of the preprocessing model (e.g. {@link #scaleFp64} and {@link
   * #SCALE_FP64_PBTXT}, or {@link #scale} and {@link #SCALE_PBTXT} to undo it).
   */
  public static void writeScale(Path repo, String version, OnnxModelBuilder model, String pbtxt)
      throws IOException {
    model.write(repo.resolve(SCALE).resolve(version).resolve(TestModels.MODEL_FILENAME));
    Files.writeString(repo.resolve(SCALE).resolve("config.pbtxt"), pbtxt);
  }

  /** The classifier: SCORES = FEATURES · W, LABEL = argmax over the classes. */
  public static OnnxModelBuilder classify() {
    return OnnxModelBuilder.create(CLASSIFY)
        .input("FEATURES", DataType.FP32, D, 4)
        .output("SCORES", DataType.FP32, D, 3)
        .output("LABEL", DataType.INT64, D, 1)
        .floatInitializer("W", new long[] {4, 3}, WEIGHTS)
        .node("MatMul", List.of("FEATURES", "W"), List.of("SCORES"))
        .node(
            "ArgMax",
            List.of("SCORES"),
            List.of("LABEL"),
            OnnxModelBuilder.intAttr("axis", 1),
            OnnxModelBuilder.intAttr("keepdims", 1));
  }

  /** What the ensemble answers for one row: its SCORES. */
  public static float[] expectedScores(float[] raw) {
    float[] out = new float[3];
    for (int k = 0; k < 4; k++) {
      float x = raw[k] * 2 - 1;
      for (int c = 0; c < 3; c++) {
        out[c] += x * WEIGHTS[k * 3 + c];
      }
    }
    return out;
  }

  /** The ensemble's config.pbtxt, as Triton's documentation writes one. */
  public static final String ENSEMBLE_PBTXT =
      """
      name: "scale_classify"
      platform: "ensemble"
      max_batch_size: 8
      input [ { name: "INPUT" data_type: TYPE_FP32 dims: [ 4 ] } ]
      output [
        { name: "SCORES" data_type: TYPE_FP32 dims: [ 3 ] },
        { name: "LABEL" data_type: TYPE_INT64 dims: [ 1 ] }
      ]
      ensemble_scheduling {
        step [
          {
            model_name: "scale"
            model_version: -1
            input_map { key: "RAW" value: "INPUT" }
            output_map { key: "SCALED" value: "scaled" }
          },
          {
            model_name: "classify"
            model_version: -1
            input_map { key: "FEATURES" value: "scaled" }
            output_map { key: "SCORES" value: "SCORES" }
            output_map { key: "LABEL" value: "LABEL" }
          }
        ]
      }
      """;

  /** The same ensemble in Fulcrum's config.yaml. */
  public static final String ENSEMBLE_YAML_CONFIG =
      """
      platform: ensemble
      max-batch-size: 8
      inputs:
        - {name: INPUT, datatype: FP32, dims: [4]}
      outputs:
        - {name: SCORES, datatype: FP32, dims: [3]}
        - {name: LABEL, datatype: INT64, dims: [1]}
      ensemble:
        steps:
          - model: scale
            input-map: {RAW: INPUT}       # the step model's input: the ensemble tensor it takes
            output-map: {SCALED: scaled}  # the step model's output: the ensemble tensor it makes
          - model: classify
            input-map: {FEATURES: scaled}
            output-map: {SCORES: SCORES, LABEL: LABEL}
      """;

  /**
   * Writes {@code scale}, {@code classify} (each with its ONNX file and a config.pbtxt), the
   * ensemble {@code scale_classify} (config.pbtxt, an empty version folder) and {@code
   * scale_classify_yaml} (config.yaml) into {@code repo}.
   *
   * @return {@code repo}
   */
  public static Path write(Path repo) throws IOException {
    writeScale(repo, TestModels.VERSION, scale(), SCALE_PBTXT);
    classify()
        .write(
            repo.resolve(CLASSIFY).resolve(TestModels.VERSION).resolve(TestModels.MODEL_FILENAME));
    Files.writeString(
        repo.resolve(CLASSIFY).resolve("config.pbtxt"),
        """
        name: "classify"
        platform: "onnxruntime_onnx"
        max_batch_size: 8
        input [ { name: "FEATURES" data_type: TYPE_FP32 dims: [ 4 ] } ]
        output [
          { name: "SCORES" data_type: TYPE_FP32 dims: [ 3 ] },
          { name: "LABEL" data_type: TYPE_INT64 dims: [ 1 ] }
        ]
        dynamic_batching { max_queue_delay_microseconds: 100 }
        instance_group [ { count: 1 kind: KIND_CPU } ]
        """);
    Files.createDirectories(repo.resolve(ENSEMBLE).resolve(TestModels.VERSION));
    Files.writeString(repo.resolve(ENSEMBLE).resolve("config.pbtxt"), ENSEMBLE_PBTXT);
    Files.createDirectories(repo.resolve(ENSEMBLE_YAML).resolve(TestModels.VERSION));
    Files.writeString(repo.resolve(ENSEMBLE_YAML).resolve("config.yaml"), ENSEMBLE_YAML_CONFIG);
    return repo;
  }
}
