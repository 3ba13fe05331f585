package dev.fulcrum.monitoring;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.function.IntSupplier;

/**
 * {@link MonitorCompareBenchmark}'s operation timed in the calling thread's CPU time rather than
 * wall time (a busy machine stretches wall time by however many threads share a core, not a
 * thread's own CPU time): warm-up, then {@code REPEATS} runs of {@code OPS} requests, printing the
 * median and lowest CPU ns per request. Uses only what existed before the monitor's cost cuts, so
 * bench/monitorjmh.sh runs it against both builds. Single-threaded.
 *
 * <p>Usage: {@code CompareCpuTime <rows>}.
 */
public final class CompareCpuTime {
  static final int OPS = 200_000;
  static final int REPEATS = 7;

  private CompareCpuTime() {}

  public static void main(String[] args) throws Exception {
    int rows = args.length > 0 ? Integer.parseInt(args[0]) : 1;
    FraudRequests fraud = new FraudRequests(rows);
    Observation[] observations = new Observation[FraudRequests.COUNT];
    for (int q = 0; q < observations.length; q++) {
      observations[q] = fraud.observation(q);
    }
    VersionMonitor monitor = fraud.monitor();
    long[] changes = new long[1];
    VersionMonitor.Listener listener = (m, f, output) -> changes[0]++;
    int[] next = new int[1];
    time(
        "compareCopied rows=" + rows,
        () -> {
          monitor.observe(observations[next[0]], listener);
          next[0] = (next[0] + 1) & (FraudRequests.COUNT - 1);
          return (int) monitor.observations();
        });
  }

  /** Times an operation in this thread's CPU time and prints ns per operation. */
  static void time(String name, IntSupplier op) {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    long sink = 0;
    for (int i = 0; i < 3 * OPS; i++) {
      sink += op.getAsInt();
    }
    double[] ns = new double[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
      long t0 = mx.getCurrentThreadCpuTime();
      for (int i = 0; i < OPS; i++) {
        sink += op.getAsInt();
      }
      ns[r] = (mx.getCurrentThreadCpuTime() - t0) / (double) OPS;
    }
    Arrays.sort(ns);
    System.out.printf(
        "%-32s CPU ns/op: median %.0f, lowest %.0f (%d x %d ops)%s%n",
        name, ns[REPEATS / 2], ns[0], REPEATS, OPS, sink == 42 ? " " : "");
  }
}
