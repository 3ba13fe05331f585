// Rows per second of ONNX Runtime in process, no server: one session on the MiniLM demo model,
// fed one [batch, 16] pass after another from one thread for a few seconds (bench/peers.sh uses it
// as the ceiling for Fulcrum's MiniLM at c=16, at the batch size the server formed). Same session
// settings as Fulcrum's defaults: intra-op threads as given, spinning off, all optimizations.
// Not part of Fulcrum; single-threaded by design.
//   java -cp <classes>:<dist>/lib/* OrtRows --model m.onnx --batch 4 --threads 2 --seconds 5
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.LongBuffer;
import java.util.Map;

public final class OrtRows {
  private static final long[] IDS = {
    101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1998, 2059, 2187, 2000, 2793, 102
  };

  private OrtRows() {}

  public static void main(String[] args) throws Exception {
    String model = null;
    int batch = 1;
    int threads = 0;
    double seconds = 5;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--model" -> model = args[i + 1];
        case "--batch" -> batch = Math.max(1, (int) Math.round(Double.parseDouble(args[i + 1])));
        case "--threads" -> threads = Integer.parseInt(args[i + 1]);
        case "--seconds" -> seconds = Double.parseDouble(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (model == null) {
      throw new IllegalArgumentException("--model is required");
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    if (threads > 0) {
      o.setIntraOpNumThreads(threads);
    }
    o.addConfigEntry("session.intra_op.allow_spinning", "0");
    o.addConfigEntry("session.inter_op.allow_spinning", "0");
    o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
    int n = IDS.length;
    long[] ids = new long[batch * n];
    long[] mask = new long[batch * n];
    long[] types = new long[batch * n];
    for (int r = 0; r < batch; r++) {
      System.arraycopy(IDS, 0, ids, r * n, n);
      java.util.Arrays.fill(mask, r * n, (r + 1) * n, 1L);
    }
    long[] shape = {batch, n};
    try (OrtSession s = env.createSession(model, o)) {
      // Warm-up: a second of passes, not counted.
      run(env, s, ids, mask, types, shape, 1.0);
      long passes = run(env, s, ids, mask, types, shape, seconds);
      System.out.printf("%.1f%n", passes * batch / seconds);
    }
  }

  /** Passes until {@code seconds} have gone by; returns how many. */
  private static long run(
      OrtEnvironment env,
      OrtSession s,
      long[] ids,
      long[] mask,
      long[] types,
      long[] shape,
      double seconds)
      throws Exception {
    long end = System.nanoTime() + (long) (seconds * 1e9);
    long passes = 0;
    while (System.nanoTime() < end) {
      // Tensors made per pass, as a server makes them per batch.
      try (OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
          OnnxTensor b = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
          OnnxTensor c = OnnxTensor.createTensor(env, LongBuffer.wrap(types), shape);
          OrtSession.Result r =
              s.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
        passes += r.size() > 0 ? 1 : 0;
      }
    }
    return passes;
  }
}
