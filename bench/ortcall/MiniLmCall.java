// MiniLM's one-row pass alone (run by bench/minilmcall.sh). Arguments: model, intra-op threads,
// nospin|spin|spinstop (spinstop: allow_spinning 1 and session.force_spinning_stop 1), gap between
// calls in us, calls per round. Prints the p50/p90 wall time of a call and the process CPU per call.
import ai.onnxruntime.*;
import java.lang.management.*;
import java.nio.*;
import java.util.*;
import java.util.concurrent.locks.LockSupport;

public class MiniLmCall {
  static long procCpu() { return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime(); }
  public static void main(String[] a) throws Exception {
    String model = a[0]; int intra = Integer.parseInt(a[1]); String spin = a[2]; long gapUs = Long.parseLong(a[3]); int n = Integer.parseInt(a[4]);
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    o.setIntraOpNumThreads(intra);
    boolean on = !spin.equals("nospin");
    o.addConfigEntry("session.intra_op.allow_spinning", on ? "1" : "0");
    o.addConfigEntry("session.inter_op.allow_spinning", on ? "1" : "0");
    if (spin.equals("spinstop")) o.addConfigEntry("session.force_spinning_stop", "1");
    o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
    OrtSession s = env.createSession(model, o);
    long[] ids = {101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1998, 2059, 2187, 2000, 2793, 102};
    long[] shape = {1, 16};
    long[] mask = new long[16]; Arrays.fill(mask, 1); long[] types = new long[16];
    for (int round = 0; round < 3; round++) {
      long[] lat = new long[n];
      long p0 = procCpu(), w0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        if (gapUs > 0) LockSupport.parkNanos(gapUs * 1000);
        long t0 = System.nanoTime();
        Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
        feeds.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape));
        feeds.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape));
        feeds.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(types), shape));
        try (OrtSession.Result r = s.run(feeds)) { }
        for (OnnxTensor t : feeds.values()) t.close();
        lat[i] = System.nanoTime() - t0;
      }
      long p1 = procCpu(), w1 = System.nanoTime();
      Arrays.sort(lat);
      if (round >= 1)
        System.out.printf("intra=%d %s gap=%dus p50 %.3f ms p90 %.3f ms, process CPU %.0f us/call, wall %.0f us/call%n",
          intra, spin, gapUs, lat[n/2]/1e6, lat[n*9/10]/1e6, (p1 - p0) / 1e3 / n, (w1 - w0) / 1e3 / n);
    }
  }
}
