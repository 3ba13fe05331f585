package dev.fulcrum.monitoring;

import java.io.IOException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What monitoring costs a fraud request, before and after the cost cuts, in one build:
 *
 * <ul>
 *   <li>{@code handOffCopy}: the engine thread's work before: copy the input and output values into
 *       new {@code double[]}s and an {@link Observation} (the same code, now the prediction log's),
 *       then {@code ArrayBlockingQueue.offer} (and its accepted counter);
 *   <li>{@code handOffReference}: after: one {@link Completed} holding references, offered to the
 *       lock-free {@link MpscRing};
 *   <li>{@code compareLive}: the monitor thread's work after: read the tensors' values into its own
 *       arrays and compare the rows ({@link VersionMonitor#observe(Completed,
 *       VersionMonitor.Listener)}); {@link MonitorCompareBenchmark} is the part before and after
 *       without the reading.
 * </ul>
 *
 * The hand-offs poll their element back on the same thread, so that the queue never fills: the
 * figure is one uncontended offer and poll; with several engine threads the old queue's lock is
 * contended as well (its consumer holds it while draining), the ring's CAS rarely. Each benchmark
 * thread has its own state.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class MonitorHandOffBenchmark {
  @Param({"1", "8"})
  public int rows;

  private FraudRequests fraud;
  private VersionMonitor monitor;
  private Completed[] completed;
  private final ArrayBlockingQueue<Observation> queue = new ArrayBlockingQueue<>(8192);
  private final AtomicLong accepted = new AtomicLong();
  private final MpscRing<Completed> ring = new MpscRing<>(8192);
  private int next;
  private long changes;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    fraud = new FraudRequests(rows);
    monitor = fraud.monitor();
    completed = new Completed[FraudRequests.COUNT];
    for (int q = 0; q < completed.length; q++) {
      completed[q] = new Completed(null, fraud.requests[q], fraud.responses[q], q, 0);
    }
  }

  private int next() {
    int q = next;
    next = (q + 1) & (FraudRequests.COUNT - 1);
    return q;
  }

  @Benchmark
  public Object handOffCopy() {
    int q = next();
    Completed c =
        new Completed(null, fraud.requests[q], fraud.responses[q], System.currentTimeMillis(), q);
    if (queue.offer(c.observation())) {
      accepted.incrementAndGet();
    }
    return queue.poll();
  }

  @Benchmark
  public Object handOffReference() {
    int q = next();
    ring.offer(
        new Completed(null, fraud.requests[q], fraud.responses[q], System.currentTimeMillis(), q));
    return ring.poll();
  }

  @Benchmark
  public long compareLive() {
    monitor.observe(completed[next()], (m, f, output) -> changes++);
    return monitor.observations();
  }
}
