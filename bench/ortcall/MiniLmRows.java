// ONNX Runtime rows/s and CPU per row on MiniLM (16 tokens) at a batch size (run by bench/minilmcall.sh).
// Arguments: model, callers (each with its own session), intra-op threads, batch rows, seconds [spin].
import ai.onnxruntime.*;
import java.lang.management.*;
import java.nio.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;

// args: model callers intra batch seconds [spin]
public class MiniLmRows {
  static long procCpu() { return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime(); }
  public static void main(String[] a) throws Exception {
    String model = a[0]; int callers = Integer.parseInt(a[1]); int intra = Integer.parseInt(a[2]); int b = Integer.parseInt(a[3]); double secs = Double.parseDouble(a[4]);
    boolean spin = a.length > 5 && a[5].equals("spin");
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession[] ss = new OrtSession[callers];
    for (int c = 0; c < callers; c++) {
      OrtSession.SessionOptions o = new OrtSession.SessionOptions();
      o.setIntraOpNumThreads(intra);
      o.addConfigEntry("session.intra_op.allow_spinning", spin ? "1" : "0");
      o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      ss[c] = env.createSession(model, o);
    }
    long[] ids0 = {101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1998, 2059, 2187, 2000, 2793, 102};
    long[] ids = new long[16 * b], mask = new long[16 * b], types = new long[16 * b];
    for (int r = 0; r < b; r++) for (int i = 0; i < 16; i++) { ids[r * 16 + i] = ids0[i]; mask[r * 16 + i] = 1; }
    long[] shape = {b, 16};
    for (int round = 0; round < 2; round++) {
      AtomicLong rows = new AtomicLong();
      long p0 = procCpu(); long end = System.nanoTime() + (long) (secs * 1e9 * (round == 0 ? 0.3 : 1));
      Thread[] ts = new Thread[callers];
      for (int c = 0; c < callers; c++) {
        OrtSession s = ss[c];
        ts[c] = new Thread(() -> {
          try {
            while (System.nanoTime() < end) {
              Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
              feeds.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape));
              feeds.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape));
              feeds.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(types), shape));
              try (OrtSession.Result r = s.run(feeds)) { }
              for (OnnxTensor t : feeds.values()) t.close();
              rows.addAndGet(b);
            }
          } catch (Exception e) { throw new RuntimeException(e); }
        });
        ts[c].start();
      }
      long w0 = System.nanoTime();
      for (Thread t : ts) t.join();
      long w1 = System.nanoTime(); long p1 = procCpu();
      if (round == 1) System.out.printf("callers=%d intra=%d batch=%d spin=%s: %.0f rows/s, CPU %.0f us/row%n", callers, intra, b, spin, rows.get() / ((w1 - w0) / 1e9), (p1 - p0) / 1e3 / rows.get());
    }
  }
}
