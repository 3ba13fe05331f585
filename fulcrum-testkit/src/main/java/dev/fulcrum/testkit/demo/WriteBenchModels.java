package dev.fulcrum.testkit.demo;

import static dev.fulcrum.testkit.onnx.OnnxModelBuilder.DYNAMIC;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Writes {@code tabular_wide}: a tabular classifier of the demo's shape (8 features in, two class
 * probabilities out) but with two 1024-wide hidden layers and seeded random weights. It exists for
 * benchmarks only: its forward pass streams about 4 MiB of weights, so unlike the tiny demo
 * classifier its cost is in the model, which is where dynamic batching pays. Run by {@code
 * bench/make_models.sh}; the output is not committed.
 */
public final class WriteBenchModels {
  static final int HIDDEN = 1024;

  private WriteBenchModels() {}

  /** Arguments: the bench model repository (default {@code bench/models}). */
  public static void main(String[] args) throws IOException {
    Path repo = Path.of(args.length > 0 ? args[0] : "bench/models");
    SplittableRandom r = new SplittableRandom(1234);
    int in = FraudClassifier.IN;
    for (String name : List.of("tabular_wide_batching", "tabular_wide_no_batching")) {
      Path file = repo.resolve(name).resolve("1").resolve("model.onnx");
      OnnxModelBuilder.create("tabular_wide")
          .input("features", DataType.FP32, DYNAMIC, in)
          .output("probabilities", DataType.FP32, DYNAMIC, 2)
          .floatInitializer("w1", new long[] {in, HIDDEN}, random(r, in * HIDDEN, in))
          .floatInitializer("b1", new long[] {HIDDEN}, new float[HIDDEN])
          .floatInitializer("w2", new long[] {HIDDEN, HIDDEN}, random(r, HIDDEN * HIDDEN, HIDDEN))
          .floatInitializer("b2", new long[] {HIDDEN}, new float[HIDDEN])
          .floatInitializer("w3", new long[] {HIDDEN, 2}, random(r, HIDDEN * 2, HIDDEN))
          .floatInitializer("b3", new long[] {2}, new float[2])
          .node("MatMul", List.of("features", "w1"), List.of("h1_mm"))
          .node("Add", List.of("h1_mm", "b1"), List.of("h1_pre"))
          .node("Relu", List.of("h1_pre"), List.of("h1"))
          .node("MatMul", List.of("h1", "w2"), List.of("h2_mm"))
          .node("Add", List.of("h2_mm", "b2"), List.of("h2_pre"))
          .node("Relu", List.of("h2_pre"), List.of("h2"))
          .node("MatMul", List.of("h2", "w3"), List.of("o_mm"))
          .node("Add", List.of("o_mm", "b3"), List.of("logits"))
          .node(
              "Softmax",
              List.of("logits"),
              List.of("probabilities"),
              OnnxModelBuilder.intAttr("axis", -1))
          .write(file);
      System.out.println("wrote " + file);
    }
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
