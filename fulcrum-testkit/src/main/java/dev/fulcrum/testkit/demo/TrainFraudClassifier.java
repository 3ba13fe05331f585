package dev.fulcrum.testkit.demo;

import static dev.fulcrum.testkit.onnx.OnnxModelBuilder.DYNAMIC;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Regenerates the demo fraud classifier: generates the training data, trains the model and writes
 * both into the demo repository. Run by {@code demo/train_fraud_classifier.sh}; the outputs are
 * committed so that serving the demo never trains anything.
 *
 * <p>Graph: {@code features [batch, 8] FP32} → standardize (Sub, Div) → MatMul + Add → Relu →
 * MatMul + Add → Softmax → {@code probabilities [batch, 2] FP32}, and ArgMax → {@code label [batch]
 * INT64}.
 */
public final class TrainFraudClassifier {
  static final long DATA_SEED = 20261128L;
  static final long TRAIN_SEED = 7L;
  static final int ROWS = 12_000;
  static final int HOLDOUT = 2_000;
  static final int EPOCHS = 25;

  private TrainFraudClassifier() {}

  /** Arguments: the demo folder (default {@code demo}). */
  public static void main(String[] args) throws IOException {
    Path demo = Path.of(args.length > 0 ? args[0] : "demo");
    List<FraudDataset.Row> all = FraudDataset.generate(ROWS + HOLDOUT, DATA_SEED);
    List<FraudDataset.Row> train = all.subList(0, ROWS);
    List<FraudDataset.Row> holdout = all.subList(ROWS, all.size());
    FraudClassifier model = FraudClassifier.train(train, EPOCHS, TRAIN_SEED);

    Path csv = demo.resolve("data/fraud_training.csv");
    FraudDataset.writeCsv(train, csv);
    Path onnx = demo.resolve("models/fraud_classifier/1/model.onnx");
    export(model, onnx);
    System.out.printf(
        Locale.ROOT,
        "fraud rate %.3f; holdout AUC %.3f%nwrote %s (%d rows) and %s%n",
        train.stream().mapToInt(FraudDataset.Row::fraud).average().orElse(0),
        model.auc(holdout),
        csv,
        train.size(),
        onnx);
  }

  /** Writes the trained model as ONNX. */
  public static void export(FraudClassifier m, Path file) throws IOException {
    int in = FraudClassifier.IN;
    int hidden = FraudClassifier.HIDDEN;
    int out = FraudClassifier.OUT;
    OnnxModelBuilder b =
        OnnxModelBuilder.create("fraud_classifier")
            .input("features", DataType.FP32, DYNAMIC, in)
            .output("probabilities", DataType.FP32, DYNAMIC, out)
            .output("label", DataType.INT64, DYNAMIC)
            .floatInitializer("mean", new long[] {in}, m.mean)
            .floatInitializer("std", new long[] {in}, m.std)
            .floatInitializer("w1", new long[] {in, hidden}, flatten(m.w1))
            .floatInitializer("b1", new long[] {hidden}, m.b1)
            .floatInitializer("w2", new long[] {hidden, out}, flatten(m.w2))
            .floatInitializer("b2", new long[] {out}, m.b2)
            .node("Sub", List.of("features", "mean"), List.of("centered"))
            .node("Div", List.of("centered", "std"), List.of("standardized"))
            .node("MatMul", List.of("standardized", "w1"), List.of("h_mm"))
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
    b.write(file);
  }

  private static float[] flatten(float[][] m) {
    float[] out = new float[m.length * m[0].length];
    for (int i = 0; i < m.length; i++) {
      System.arraycopy(m[i], 0, out, i * m[0].length, m[0].length);
    }
    return out;
  }
}
