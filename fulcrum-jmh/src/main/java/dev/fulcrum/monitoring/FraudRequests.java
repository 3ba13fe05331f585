package dev.fulcrum.monitoring;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The fraud demo's requests as the monitor meets them, for the monitoring benchmarks: rows drawn
 * with a fixed seed from demo/data/fraud_training.csv (varied values, so the detectors' searches
 * are not predicted perfectly), {@code rows} per request, as the server decodes them (FP32 [rows,
 * 8] in a direct buffer) with the model's outputs (FP32 [rows, 2] probabilities, INT64 [rows]
 * label; a plausible probability made from the row's fraud label). Located from the working
 * directory upwards (run from the repository root or a module). Immutable once built.
 */
final class FraudRequests {
  static final int COUNT = 1024;

  final Baseline baseline;
  final List<Baseline.InputColumns> columns;
  final InferenceRequest[] requests = new InferenceRequest[COUNT];
  final InferenceResponse[] responses = new InferenceResponse[COUNT];

  FraudRequests(int rows) throws IOException {
    Path root = Path.of("").toAbsolutePath();
    while (root != null && !Files.exists(root.resolve("demo/data/fraud_training.csv"))) {
      root = root.getParent();
    }
    if (root == null) {
      throw new IOException("run from the repository: demo/data/fraud_training.csv not found");
    }
    baseline = Baseline.read(root.resolve("demo/models/fraud_classifier/baseline.json"));
    columns = baseline.inputs();
    List<String> lines = Files.readAllLines(root.resolve("demo/data/fraud_training.csv"));
    List<double[]> data = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      String[] cells = line.split(",");
      double[] v = new double[cells.length];
      for (int i = 0; i < cells.length; i++) {
        v[i] = Double.parseDouble(cells[i]);
      }
      data.add(v);
    }
    Random r = new Random(42);
    for (int q = 0; q < COUNT; q++) {
      ByteBuffer in = ByteBuffer.allocateDirect(4 * 8 * rows).order(ByteOrder.LITTLE_ENDIAN);
      ByteBuffer p = ByteBuffer.allocate(4 * 2 * rows).order(ByteOrder.LITTLE_ENDIAN);
      ByteBuffer label = ByteBuffer.allocate(8 * rows).order(ByteOrder.LITTLE_ENDIAN);
      for (int k = 0; k < rows; k++) {
        double[] row = data.get(r.nextInt(data.size()));
        for (int c = 0; c < 8; c++) {
          in.putFloat(4 * (8 * k + c), (float) row[c]);
        }
        double fraud = row[8] > 0 ? 0.7 + 0.3 * r.nextDouble() : 0.2 * r.nextDouble();
        p.putFloat(4 * 2 * k, (float) (1 - fraud));
        p.putFloat(4 * (2 * k + 1), (float) fraud);
        label.putLong(8 * k, fraud > 0.5 ? 1 : 0);
      }
      String id = Integer.toString(q);
      requests[q] =
          new InferenceRequest(
              "fraud_classifier",
              "",
              id,
              Map.of(),
              List.of(Tensor.of("features", DataType.FP32, new long[] {rows, 8}, in)),
              List.of());
      responses[q] =
          new InferenceResponse(
              "fraud_classifier",
              "1",
              id,
              Map.of(),
              List.of(
                  Tensor.of("probabilities", DataType.FP32, new long[] {rows, 2}, p),
                  Tensor.of("label", DataType.INT64, new long[] {rows}, label)));
    }
  }

  /** The request's values as the engine thread used to copy them. */
  Observation observation(int q) {
    return new Observation(
        null,
        "fraud_classifier",
        "1",
        requests[q].id(),
        q,
        0,
        copies(requests[q].inputs()),
        copies(responses[q].outputs()));
  }

  private static List<Observation.Values> copies(List<Tensor> tensors) {
    List<Observation.Values> out = new ArrayList<>();
    for (Tensor t : tensors) {
      ByteBuffer b = t.unsafeData();
      int n = (int) t.elementCount();
      double[] v = new double[n];
      for (int i = 0; i < n; i++) {
        v[i] =
            t.datatype() == DataType.INT64
                ? b.getLong(b.position() + 8 * i)
                : b.getFloat(b.position() + 4 * i);
      }
      out.add(new Observation.Values(t.name(), t.shape(), v));
    }
    return out;
  }

  VersionMonitor monitor() {
    return new VersionMonitor(
        "fraud_classifier",
        "1",
        true,
        "baseline.json",
        columns,
        baseline,
        null,
        DetectorSettings.defaults());
  }
}
