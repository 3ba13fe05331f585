package dev.fulcrum.monitoring;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link MonitorHandOffBenchmark}'s operations in the calling thread's CPU time (see {@link
 * CompareCpuTime}). Single-threaded.
 *
 * <p>Usage: {@code HandOffCpuTime <rows>}.
 */
public final class HandOffCpuTime {
  private HandOffCpuTime() {}

  public static void main(String[] args) throws Exception {
    int rows = args.length > 0 ? Integer.parseInt(args[0]) : 1;
    FraudRequests fraud = new FraudRequests(rows);
    ArrayBlockingQueue<Observation> queue = new ArrayBlockingQueue<>(8192);
    AtomicLong accepted = new AtomicLong();
    MpscRing<Completed> ring = new MpscRing<>(8192);
    int[] next = new int[1];
    CompareCpuTime.time(
        "handOffCopy rows=" + rows,
        () -> {
          int q = next[0];
          next[0] = (q + 1) & (FraudRequests.COUNT - 1);
          Completed c =
              new Completed(
                  null, fraud.requests[q], fraud.responses[q], System.currentTimeMillis(), q);
          if (queue.offer(c.observation())) {
            accepted.incrementAndGet();
          }
          return queue.poll() == null ? 0 : 1;
        });
    CompareCpuTime.time(
        "handOffReference rows=" + rows,
        () -> {
          int q = next[0];
          next[0] = (q + 1) & (FraudRequests.COUNT - 1);
          ring.offer(
              new Completed(
                  null, fraud.requests[q], fraud.responses[q], System.currentTimeMillis(), q));
          return ring.poll() == null ? 0 : 1;
        });
    VersionMonitor monitor = fraud.monitor();
    Completed[] completed = new Completed[FraudRequests.COUNT];
    for (int q = 0; q < completed.length; q++) {
      completed[q] = new Completed(null, fraud.requests[q], fraud.responses[q], q, 0);
    }
    long[] changes = new long[1];
    VersionMonitor.Listener listener = (m, f, output) -> changes[0]++;
    CompareCpuTime.time(
        "compareLive rows=" + rows,
        () -> {
          int q = next[0];
          next[0] = (q + 1) & (FraudRequests.COUNT - 1);
          monitor.observe(completed[q], listener);
          return (int) monitor.observations();
        });
  }
}
