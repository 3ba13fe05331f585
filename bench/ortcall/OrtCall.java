// ONNX Runtime's per-call CPU in process (run by bench/ortcall.sh). Arguments: model, intra-op
// threads, batch rows, mode (fresh: a new input OnnxTensor and feeds map per call, as
// OnnxModelInstance.execute does; reuse: one tensor and map for every call; create: the tensor's
// creation and close alone), spin|nospin. Properties: -Dn= calls per round, -Dthrash=<KiB/8> a
// cache thrash between calls (its own CPU left out of "call alone", which includes one CPU-clock
// read), -Dnoarena=true, -Dnopattern=true. Prints the calling thread's and the process's CPU per call.
import ai.onnxruntime.*;
import java.lang.management.*;
import java.nio.*;
import java.util.*;

public class OrtCall {
  static long procCpu() { return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime(); }
  public static void main(String[] a) throws Exception {
    String model = a[0];
    int intra = Integer.parseInt(a[1]);
    int rows = Integer.parseInt(a[2]);
    String mode = a[3]; // fresh | reuse | create
    boolean spin = a.length > 4 && a[4].equals("spin");
    int n = Integer.getInteger("n", 200000) / Math.max(1, rows / 2);
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    o.setIntraOpNumThreads(intra);
    o.addConfigEntry("session.intra_op.allow_spinning", spin ? "1" : "0");
    o.addConfigEntry("session.inter_op.allow_spinning", spin ? "1" : "0");
    o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
    if (Boolean.getBoolean("noarena")) o.setCPUArenaAllocator(false);
    if (Boolean.getBoolean("nopattern")) o.setMemoryPatternOptimization(false);
    int thrash = Integer.getInteger("thrash", 0);
    long[] junk = new long[Math.max(1, thrash) * 128];
    long callNs = 0; long sink = 0;
    OrtSession s = env.createSession(model, o);
    long[] shape = {rows, 8};
    ByteBuffer in = ByteBuffer.allocateDirect(rows * 8 * 4).order(ByteOrder.nativeOrder());
    for (int i = 0; i < rows * 8; i++) in.putFloat(i * 4, (float) (i % 7) * 0.3f);
    ByteBuffer p = ByteBuffer.allocateDirect(rows * 2 * 4).order(ByteOrder.nativeOrder());
    ByteBuffer l = ByteBuffer.allocateDirect(rows * 8).order(ByteOrder.nativeOrder());
    OnnxTensor pt = OnnxTensor.createTensor(env, p.asFloatBuffer(), new long[] {rows, 2});
    OnnxTensor lt = OnnxTensor.createTensor(env, l.asLongBuffer(), new long[] {rows});
    Map<String, OnnxTensor> pinned = new LinkedHashMap<>();
    pinned.put("probabilities", pt); pinned.put("label", lt);
    OnnxTensor reused = OnnxTensor.createTensor(env, in, shape, OnnxJavaType.FLOAT);
    Map<String, OnnxTensor> reusedFeeds = Map.of("features", reused);
    ThreadMXBean tb = ManagementFactory.getThreadMXBean();
    for (int round = 0; round < 4; round++) {
      callNs = 0;
      long t0 = tb.getCurrentThreadCpuTime(), p0 = procCpu(), w0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        if (thrash > 0) { for (int j = 0; j < junk.length; j += 8) sink += junk[j]++; }
        long c0 = thrash > 0 ? tb.getCurrentThreadCpuTime() : 0;
        if (mode.equals("fresh")) {
          Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
          feeds.put("features", OnnxTensor.createTensor(env, in, shape, OnnxJavaType.FLOAT));
          try (OrtSession.Result r = s.run(feeds, Set.of(), pinned)) { }
          for (OnnxTensor t : feeds.values()) t.close();
        } else if (mode.equals("reuse")) {
          try (OrtSession.Result r = s.run(reusedFeeds, Set.of(), pinned)) { }
        } else if (mode.equals("create")) { // tensor creation alone
          OnnxTensor t = OnnxTensor.createTensor(env, in, shape, OnnxJavaType.FLOAT); t.close();
        }
        if (thrash > 0) callNs += tb.getCurrentThreadCpuTime() - c0;
      }
      long t1 = tb.getCurrentThreadCpuTime(), p1 = procCpu(), w1 = System.nanoTime();
      if (round >= 1)
        System.out.printf("%s intra=%d rows=%d spin=%s round=%d thread %.2f us/call, process %.2f us/call, wall %.2f%n",
          mode, intra, rows, spin, round, (t1 - t0) / 1e3 / n, (p1 - p0) / 1e3 / n, (w1 - w0) / 1e3 / n);
      if (round >= 1 && thrash > 0) System.out.printf("   call alone (incl. one clock read) %.2f us/call sink=%d%n", callNs / 1e3 / n, sink & 1);
    }
  }
}
