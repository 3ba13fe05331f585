package dev.fulcrum.testkit.demo;

import static dev.fulcrum.testkit.onnx.OnnxModelBuilder.DYNAMIC;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Three models unlike the demo's, with seeded random weights, to check that Fulcrum serves a model
 * nobody tuned it for as well as it serves the demo ones (issue 12: "a model the developers have
 * not seen"). Each is written as {@code <repo>/<name>/1/model.onnx} with no {@code config.yaml},
 * the way a new user drops a file in:
 *
 * <ul>
 *   <li>{@value #CNN}: FP32 {@code image} [N, 3, 32, 32] -> Conv 3x3 (16) -> Relu -> Conv 3x3
 *       stride 2 (32) -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> Softmax -> FP32 {@code
 *       probabilities} [N, 10]. About 5 MFLOP a row: its cost is in the model.
 *   <li>{@value #MIXED}: INT64 {@code category_ids} [N, 4] (ids below {@value #VOCAB}, one shared
 *       8-wide embedding table, Gather) and FP32 {@code numeric} [N, 16]; a 64-wide hidden layer;
 *       two outputs of two datatypes: FP32 {@code probabilities} [N, 5] and INT64 {@code label} [N]
 *       (ArgMax, a rank-1 output).
 *   <li>{@value #FIXED}: no batch dimension: FP64 {@code window} [4, 32] (fixed) -> Cast -> MatMul
 *       [32, 8] -> Tanh -> Cast -> FP64 {@code summary} [4, 8].
 * </ul>
 *
 * <p>Stateless; the same call writes the same bytes.
 */
public final class UnseenModels {
  public static final String CNN = "cnn_image";
  public static final String MIXED = "mixed_tabular";
  public static final String FIXED = "fixed_window";

  /** Categorical ids of {@value #MIXED} are in [0, VOCAB). */
  public static final int VOCAB = 1000;

  private UnseenModels() {}

  /** Arguments: the repository to write into (default {@code bench/models/unseen}). */
  public static void main(String[] args) throws IOException {
    Path repo = Path.of(args.length > 0 ? args[0] : "bench/models/unseen");
    for (String name : List.of(CNN, MIXED, FIXED)) {
      System.out.println("wrote " + write(repo, name));
    }
  }

  /** Writes model {@code name} to {@code <repo>/<name>/1/model.onnx}; returns the file. */
  public static Path write(Path repo, String name) throws IOException {
    OnnxModelBuilder b =
        switch (name) {
          case CNN -> cnn();
          case MIXED -> mixed();
          case FIXED -> fixed();
          default -> throw new IllegalArgumentException("unknown model " + name);
        };
    return b.write(repo.resolve(name).resolve("1").resolve("model.onnx"));
  }

  static OnnxModelBuilder cnn() {
    SplittableRandom r = new SplittableRandom(19_001);
    return OnnxModelBuilder.create(CNN)
        .input("image", DataType.FP32, DYNAMIC, 3, 32, 32)
        .output("probabilities", DataType.FP32, DYNAMIC, 10)
        .floatInitializer("c1_w", new long[] {16, 3, 3, 3}, random(r, 16 * 3 * 9, 3 * 9))
        .floatInitializer("c1_b", new long[] {16}, new float[16])
        .floatInitializer("c2_w", new long[] {32, 16, 3, 3}, random(r, 32 * 16 * 9, 16 * 9))
        .floatInitializer("c2_b", new long[] {32}, new float[32])
        .floatInitializer("fc_w", new long[] {10, 32}, random(r, 10 * 32, 32))
        .floatInitializer("fc_b", new long[] {10}, new float[10])
        .node(
            "Conv",
            List.of("image", "c1_w", "c1_b"),
            List.of("c1"),
            OnnxModelBuilder.intsAttr("kernel_shape", 3, 3),
            OnnxModelBuilder.intsAttr("pads", 1, 1, 1, 1))
        .node("Relu", List.of("c1"), List.of("r1"))
        .node(
            "Conv",
            List.of("r1", "c2_w", "c2_b"),
            List.of("c2"),
            OnnxModelBuilder.intsAttr("kernel_shape", 3, 3),
            OnnxModelBuilder.intsAttr("pads", 1, 1, 1, 1),
            OnnxModelBuilder.intsAttr("strides", 2, 2))
        .node("Relu", List.of("c2"), List.of("r2"))
        .node("GlobalAveragePool", List.of("r2"), List.of("pool"))
        .node("Flatten", List.of("pool"), List.of("flat"), OnnxModelBuilder.intAttr("axis", 1))
        .node(
            "Gemm",
            List.of("flat", "fc_w", "fc_b"),
            List.of("logits"),
            OnnxModelBuilder.intAttr("transB", 1))
        .node(
            "Softmax",
            List.of("logits"),
            List.of("probabilities"),
            OnnxModelBuilder.intAttr("axis", -1));
  }

  static OnnxModelBuilder mixed() {
    SplittableRandom r = new SplittableRandom(19_002);
    int emb = 8;
    int cats = 4;
    int numeric = 16;
    int in = cats * emb + numeric;
    int hidden = 64;
    return OnnxModelBuilder.create(MIXED)
        .input("category_ids", DataType.INT64, DYNAMIC, cats)
        .input("numeric", DataType.FP32, DYNAMIC, numeric)
        .output("probabilities", DataType.FP32, DYNAMIC, 5)
        .output("label", DataType.INT64, DYNAMIC)
        .floatInitializer("emb", new long[] {VOCAB, emb}, random(r, VOCAB * emb, emb))
        .longInitializer("flat_shape", new long[] {2}, -1L, (long) cats * emb)
        .floatInitializer("w1", new long[] {in, hidden}, random(r, in * hidden, in))
        .floatInitializer("b1", new long[] {hidden}, new float[hidden])
        .floatInitializer("w2", new long[] {hidden, 5}, random(r, hidden * 5, hidden))
        .floatInitializer("b2", new long[] {5}, new float[5])
        .node("Gather", List.of("emb", "category_ids"), List.of("embedded"))
        .node("Reshape", List.of("embedded", "flat_shape"), List.of("embedded_flat"))
        .node(
            "Concat",
            List.of("embedded_flat", "numeric"),
            List.of("joined"),
            OnnxModelBuilder.intAttr("axis", 1))
        .node("MatMul", List.of("joined", "w1"), List.of("h_mm"))
        .node("Add", List.of("h_mm", "b1"), List.of("h_pre"))
        .node("Relu", List.of("h_pre"), List.of("h"))
        .node("MatMul", List.of("h", "w2"), List.of("o_mm"))
        .node("Add", List.of("o_mm", "b2"), List.of("logits"))
        .node(
            "Softmax",
            List.of("logits"),
            List.of("probabilities"),
            OnnxModelBuilder.intAttr("axis", -1))
        .node(
            "ArgMax",
            List.of("logits"),
            List.of("label"),
            OnnxModelBuilder.intAttr("axis", 1),
            OnnxModelBuilder.intAttr("keepdims", 0));
  }

  static OnnxModelBuilder fixed() {
    SplittableRandom r = new SplittableRandom(19_003);
    return OnnxModelBuilder.create(FIXED)
        .input("window", DataType.FP64, 4, 32)
        .output("summary", DataType.FP64, 4, 8)
        .floatInitializer("w", new long[] {32, 8}, random(r, 32 * 8, 32))
        .node("Cast", List.of("window"), List.of("window32"), OnnxModelBuilder.intAttr("to", 1))
        .node("MatMul", List.of("window32", "w"), List.of("mm"))
        .node("Tanh", List.of("mm"), List.of("t"))
        .node("Cast", List.of("t"), List.of("summary"), OnnxModelBuilder.intAttr("to", 11));
  }

  private static float[] random(SplittableRandom r, int n, int fanIn) {
    float scale = (float) Math.sqrt(2.0 / fanIn);
    float[] w = new float[n];
    for (int i = 0; i < n; i++) {
      w[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
    }
    return w;
  }
}
