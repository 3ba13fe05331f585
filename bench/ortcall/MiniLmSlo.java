// The SLO bound in process (issue #10; run by bench/slo_bound.sh): MiniLM (16 tokens) on ONNX
// Runtime alone, no HTTP, no client process, under open-loop Poisson arrivals, batched greedily by
// worker threads as the demo server's two one-thread instances batch them (one session, each worker
// takes what has queued, up to MAX_BATCH rows, no queue delay), every request served (nothing
// refused). It reports the fraction answered within the SLO from each request's intended arrival,
// the latency percentiles, the 1 s windows that held misses, and the windows whose passes ran
// slower than the run's own median: what the machine alone does to a latency objective at the same
// load (a reference for the server's figure; greedy batching is not proven the best policy).
// Arguments: model seconds rate_or_fraction [slo_ms workers max_batch]
//   rate_or_fraction <= 1: that fraction of the capacity measured first (closed loop, max batch,
//   15 s after a 5 s warm-up); > 1: that many requests a second.
import ai.onnxruntime.*;
import java.nio.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import java.util.concurrent.locks.*;

public class MiniLmSlo {
  static final long[] IDS = {101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1998, 2059, 2187, 2000, 2793, 102};

  static OrtEnvironment env;
  static OrtSession session;
  static long[][] ids, mask, types;

  static void pass(int b) throws OrtException {
    long[] shape = {b, 16};
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    feeds.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids[b]), shape));
    feeds.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask[b]), shape));
    feeds.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(types[b]), shape));
    try (OrtSession.Result r = session.run(feeds)) {
      r.get(0); // the output is read as a server reads it
    }
    for (OnnxTensor t : feeds.values()) t.close();
  }

  public static void main(String[] a) throws Exception {
    String model = a[0];
    double seconds = Double.parseDouble(a[1]);
    double rateArg = Double.parseDouble(a[2]);
    double sloMs = a.length > 3 ? Double.parseDouble(a[3]) : 100;
    int workers = a.length > 4 ? Integer.parseInt(a[4]) : 2;
    int maxBatch = a.length > 5 ? Integer.parseInt(a[5]) : 16;
    env = OrtEnvironment.getEnvironment();
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    o.setIntraOpNumThreads(1);
    o.addConfigEntry("session.intra_op.allow_spinning", "0");
    o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
    session = env.createSession(model, o);
    ids = new long[maxBatch + 1][];
    mask = new long[maxBatch + 1][];
    types = new long[maxBatch + 1][];
    for (int b = 1; b <= maxBatch; b++) {
      ids[b] = new long[16 * b];
      mask[b] = new long[16 * b];
      types[b] = new long[16 * b];
      for (int r = 0; r < b; r++)
        for (int i = 0; i < 16; i++) {
          ids[b][r * 16 + i] = IDS[i];
          mask[b][r * 16 + i] = 1;
        }
    }

    double rate = rateArg;
    if (rateArg <= 1) {
      double cap = capacity(workers, maxBatch, 5, 15);
      rate = cap * rateArg;
      System.out.printf("capacity (closed loop, %d workers, batch %d): %.0f rows/s; offered %.0f %% of it: %.0f/s%n", workers, maxBatch, cap, rateArg * 100, rate);
    } else {
      capacity(workers, maxBatch, 5, 0); // warm-up only
    }
    openLoop(rate, seconds, sloMs, workers, maxBatch);
  }

  static double capacity(int workers, int maxBatch, double warm, double secs) throws Exception {
    double result = 0;
    for (double s : new double[] {warm, secs}) {
      if (s <= 0) continue;
      AtomicLong rows = new AtomicLong();
      long end = System.nanoTime() + (long) (s * 1e9);
      Thread[] ts = new Thread[workers];
      long t0 = System.nanoTime();
      for (int w = 0; w < workers; w++) {
        ts[w] = new Thread(() -> {
          try {
            while (System.nanoTime() < end) {
              pass(maxBatch);
              rows.addAndGet(maxBatch);
            }
          } catch (OrtException e) {
            throw new RuntimeException(e);
          }
        });
        ts[w].start();
      }
      for (Thread t : ts) t.join();
      result = rows.get() / ((System.nanoTime() - t0) / 1e9);
    }
    return result;
  }

  static void openLoop(double rate, double seconds, double sloMs, int workers, int maxBatch) throws Exception {
    int n = (int) (rate * seconds);
    long[] intended = new long[n];
    long[] done = new long[n];
    Random rnd = new Random(42);
    long start = System.nanoTime() + 50_000_000L;
    double t = 0;
    for (int i = 0; i < n; i++) {
      t += -Math.log(1 - rnd.nextDouble()) / rate;
      intended[i] = start + (long) (t * 1e9);
    }
    // The queue: indices of arrived requests; workers take up to maxBatch at once.
    ArrayDeque<Integer> queue = new ArrayDeque<>();
    ReentrantLock lock = new ReentrantLock();
    Condition arrived = lock.newCondition();
    AtomicBoolean over = new AtomicBoolean();
    int windows = (int) Math.ceil(seconds) + 2;
    long[][] passNanos = new long[workers][];
    int[][] passBatch = new int[workers][];
    long[][] passAt = new long[workers][];
    int[] passes = new int[workers];
    Thread[] ts = new Thread[workers];
    for (int w = 0; w < workers; w++) {
      int me = w;
      passNanos[w] = new long[n + 1];
      passBatch[w] = new int[n + 1];
      passAt[w] = new long[n + 1];
      ts[w] = new Thread(() -> {
        int[] batch = new int[maxBatch];
        try {
          while (true) {
            int b = 0;
            lock.lock();
            try {
              while (queue.isEmpty() && !over.get()) arrived.await();
              if (queue.isEmpty()) return;
              while (b < maxBatch && !queue.isEmpty()) batch[b++] = queue.poll();
            } finally {
              lock.unlock();
            }
            long p0 = System.nanoTime();
            pass(b);
            long p1 = System.nanoTime();
            for (int i = 0; i < b; i++) done[batch[i]] = p1;
            int k = passes[me]++;
            passNanos[me][k] = p1 - p0;
            passBatch[me][k] = b;
            passAt[me][k] = p0;
          }
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      }, "worker-" + w);
      ts[w].start();
    }
    int late = 0;
    for (int i = 0; i < n; i++) {
      long wait = intended[i] - System.nanoTime();
      if (wait > 0) LockSupport.parkNanos(wait);
      if (System.nanoTime() - intended[i] > 1_000_000) late++;
      lock.lock();
      try {
        queue.add(i);
        arrived.signal();
      } finally {
        lock.unlock();
      }
    }
    over.set(true);
    lock.lock();
    try {
      arrived.signalAll();
    } finally {
      lock.unlock();
    }
    for (Thread th : ts) th.join();

    long slo = (long) (sloMs * 1e6);
    long[] lat = new long[n];
    int within = 0;
    int[] winMiss = new int[windows], winAll = new int[windows];
    for (int i = 0; i < n; i++) {
      lat[i] = done[i] - intended[i];
      int wi = (int) ((intended[i] - start) / 1_000_000_000L);
      winAll[wi]++;
      if (lat[i] <= slo) within++;
      else winMiss[wi]++;
    }
    Arrays.sort(lat);
    System.out.printf("open loop %.0f/s for %.0f s (Poisson, seed 42), %d workers, max batch %d, slo %.0f ms: sent %d, generator late > 1 ms: %d%n", rate, seconds, workers, maxBatch, sloMs, n, late);
    System.out.printf("  within %.0f ms: %.3f %% (%d missed); latency p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms, max %.1f ms%n", sloMs, 100.0 * within / n, n - within, lat[n / 2] / 1e6, lat[(int) (n * 0.99)] / 1e6, lat[(int) (n * 0.999)] / 1e6, lat[n - 1] / 1e6);
    StringBuilder sb = new StringBuilder();
    int missWindows = 0;
    for (int wi = 0; wi < windows; wi++)
      if (winMiss[wi] > 0) {
        missWindows++;
        if (sb.length() < 400) sb.append(String.format(" %ds:%d/%d", wi, winMiss[wi], winAll[wi]));
      }
    System.out.printf("  1 s windows with misses: %d of %d;%s%n", missWindows, (int) Math.ceil(seconds), sb);
    // Passes: time per row by window against the run's median (a slow spell: the machine, since
    // nothing else here competes but the generator).
    List<double[]> all = new ArrayList<>();
    long rows = 0;
    for (int w = 0; w < workers; w++)
      for (int k = 0; k < passes[w]; k++) {
        all.add(new double[] {(passAt[w][k] - start) / 1e9, passNanos[w][k] / 1e3 / passBatch[w][k], passBatch[w][k]});
        rows += passBatch[w][k];
      }
    // Each pass against the median pass of its own batch size (time per row falls with the batch).
    Map<Integer, double[]> bySize = new HashMap<>();
    for (int b = 1; b <= maxBatch; b++) {
      int bb = b;
      bySize.put(b, all.stream().filter(x -> x[2] == bb).mapToDouble(x -> x[1]).sorted().toArray());
    }
    double[] perRow = all.stream().mapToDouble(x -> x[1]).sorted().toArray();
    double med = perRow[perRow.length / 2];
    double[][] win = new double[windows][2];
    for (double[] x : all) {
      double[] same = bySize.get((int) x[2]);
      double ratio = x[1] / same[same.length / 2];
      int wi = Math.max(0, Math.min(windows - 1, (int) x[0]));
      win[wi][0] += ratio * x[2];
      win[wi][1] += x[2];
    }
    int slow13 = 0, slow15 = 0;
    double worst = 0;
    for (double[] x : win)
      if (x[1] > 0) {
        double r = x[0] / x[1];
        if (r >= 1.3) slow13++;
        if (r >= 1.5) slow15++;
        worst = Math.max(worst, r);
      }
    System.out.printf("  passes: %d, %.2f rows a pass; time per row median %.0f us; 1 s windows whose passes took >= 1.3x the median pass of their batch size (rows weighted): %d (>= 1.5x: %d), worst %.2fx%n", perRow.length, (double) rows / perRow.length, med, slow13, slow15, worst);
  }
}
