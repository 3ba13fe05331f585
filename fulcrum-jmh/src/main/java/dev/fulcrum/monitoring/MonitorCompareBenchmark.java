package dev.fulcrum.monitoring;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
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
 * The monitor thread's per-request work on the fraud model (8 features, 3 output columns): one
 * request's rows compared with the demo baseline by {@link VersionMonitor#observe(Observation,
 * VersionMonitor.Listener)}, the values already copied (as the engine thread used to hand them
 * over, and as the replay reads them). Uses only what existed before the monitor's cost cuts, so
 * the same file runs against the build before them (bench/monitorjmh.sh: before and after in one
 * run). Each benchmark thread has its own state.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class MonitorCompareBenchmark {
  @Param({"1", "8"})
  public int rows;

  private FraudRequests fraud;
  private Observation[] observations;
  private VersionMonitor monitor;
  private int next;
  private long changes;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    fraud = new FraudRequests(rows);
    observations = new Observation[FraudRequests.COUNT];
    for (int q = 0; q < observations.length; q++) {
      observations[q] = fraud.observation(q);
    }
    monitor = fraud.monitor();
  }

  /** One request's rows through the detectors. */
  @Benchmark
  public long compareCopied() {
    Observation o = observations[next];
    next = (next + 1) & (FraudRequests.COUNT - 1);
    monitor.observe(o, (m, f, output) -> changes++);
    return monitor.observations();
  }
}
