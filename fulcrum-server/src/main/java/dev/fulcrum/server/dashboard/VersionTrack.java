package dev.fulcrum.server.dashboard;

import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import dev.fulcrum.core.stats.ModelStatistics;
import dev.fulcrum.core.stats.SloAccounting;
import java.util.HashMap;
import java.util.Map;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.jspecify.annotations.Nullable;

/**
 * One model version on the dashboard: the request latencies of the current second, recorded
 * lock-free from the scheduler's threads into an HdrHistogram {@link Recorder}, and the last five
 * minutes of one-second samples, each made from the version's {@link ModelStatistics} counters
 * since the previous sample (rates, queue vs compute time, formed batch sizes, busy time) and, for
 * a version with a latency objective, its load ratio and attainment over the last 10 s ({@link
 * SloAccounting#recent}).
 *
 * <p>Threads: {@link #requestDone} is called by any scheduler or transport thread (the recorder is
 * wait-free for writers); everything else, the history included, belongs to the feed's thread.
 */
final class VersionTrack implements SchedulerObserver {

  /** The double columns of a version's history, with their names in the frames. */
  enum Column {
    RPS(0, "rps"),
    IPS(1, "ips"),
    P50(2, "p50"),
    P95(3, "p95"),
    P99(4, "p99"),
    QUEUE_MS(5, "queueMs"),
    COMPUTE_MS(6, "computeMs"),
    REJECTED(7, "rejected"),
    TIMED_OUT(8, "timedOut"),
    FAILED(9, "failed"),
    CANCELLED(10, "cancelled"),
    PENDING(11, "pending"),
    UTILIZATION(12, "util"),
    BATCH_MEAN(13, "batchMean"),
    SLO_REFUSED(14, "sloRefused"),
    INVALID(15, "invalid"),
    /** The load against the capacity at the objective, {@code fulcrum_slo_load_ratio}'s figure. */
    LOAD_RATIO(16, "loadRatio"),
    /** SLO attainment over the load's window (10 s), 0 to 1. */
    ATTAINMENT(17, "attainment");

    /** The column's index in the history. */
    final int index;

    final String json;

    Column(int index, String json) {
      this.index = index;
      this.json = json;
    }
  }

  /** Formed batch sizes by power-of-two bucket: 1, 2, 3–4, 5–8, …, 257 and more. */
  static final int BATCH_BUCKETS = 10;

  /** Upper bounds of the batch buckets, as the page labels them. */
  static final int[] BATCH_BOUNDS = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

  final String model;
  final long version;
  final History history;
  private final Recorder latencyMicros = new Recorder(2);
  private @Nullable Histogram interval;

  // The feed thread's: the statistics object sampled last, its counters then, and when.
  private @Nullable ModelStatistics sampled;
  private ModelStatistics.@Nullable Snapshot last;
  private long lastNanos;

  VersionTrack(String model, long version, int capacity) {
    this.model = model;
    this.version = version;
    this.history = new History(capacity, Column.values().length, BATCH_BUCKETS);
  }

  /** Bytes of one version's history ring (the recorder adds a few KiB that grow with latency). */
  static long historyBytes(int capacity) {
    return History.bytes(capacity, Column.values().length, BATCH_BUCKETS);
  }

  @Override
  public void requestDone(RequestDone done) {
    if (done.outcome() == Outcome.SUCCESS) {
      latencyMicros.recordValue(Math.max(1, done.totalNanos() / 1000));
    }
  }

  static int bucketOf(int batchSize) {
    if (batchSize <= 1) {
      return 0;
    }
    int b = 64 - Long.numberOfLeadingZeros(batchSize - 1L); // ceil(log2(size))
    return Math.min(BATCH_BUCKETS - 1, b);
  }

  /**
   * Takes one sample of {@code v} (the version object that serves now) into the history. The first
   * sample of a version object only sets the baseline and records zeros, so that a version that
   * served for a while before does not show its whole past as one second's traffic.
   */
  void sample(ModelVersion v, long nowNanos, long nowMillis) {
    ModelStatistics stats = v.statistics();
    ModelStatistics.Snapshot now = stats.snapshot();
    interval = latencyMicros.getIntervalHistogram(interval);
    ModelStatistics.Snapshot base = last;
    double seconds = (nowNanos - lastNanos) / 1e9;
    double[] values = new double[Column.values().length];
    long[] batches = new long[BATCH_BUCKETS];
    if (base == null || sampled != stats || seconds <= 0) {
      java.util.Arrays.fill(values, 0);
      values[Column.P50.index] = Double.NaN;
      values[Column.P95.index] = Double.NaN;
      values[Column.P99.index] = Double.NaN;
      values[Column.QUEUE_MS.index] = Double.NaN;
      values[Column.COMPUTE_MS.index] = Double.NaN;
      values[Column.BATCH_MEAN.index] = Double.NaN;
    } else {
      fill(values, batches, base, now, seconds, v.scheduler().instanceCount());
    }
    values[Column.PENDING.index] = v.pending();
    values[Column.LOAD_RATIO.index] = Double.NaN;
    values[Column.ATTAINMENT.index] = Double.NaN;
    if (v.config().slo().hasObjective()) {
      // The load's window, not the longer ones: a few buckets, read once a second per version.
      SloAccounting.Recent recent = v.sloRecent();
      values[Column.LOAD_RATIO.index] = recent.load().ratio();
      values[Column.ATTAINMENT.index] = recent.window().attainment();
    }
    sampled = stats;
    last = now;
    lastNanos = nowNanos;
    history.add(nowMillis, values, batches);
  }

  private void fill(
      double[] values,
      long[] batches,
      ModelStatistics.Snapshot base,
      ModelStatistics.Snapshot now,
      double seconds,
      int instances) {
    long success = now.success().count() - base.success().count();
    long fail = now.fail().count() - base.fail().count();
    long rejected = now.rejected() - base.rejected();
    long sloRefused = now.sloRejected() - base.sloRejected();
    long timedOut = now.timedOut() - base.timedOut();
    long cancelled = now.cancelled() - base.cancelled();
    long invalid = now.invalid() - base.invalid();
    long inferences = now.inferenceCount() - base.inferenceCount();
    long executions = now.executionCount() - base.executionCount();
    long queueCount = now.queue().count() - base.queue().count();
    long queueNs = now.queue().ns() - base.queue().ns();
    long computeNs =
        now.computeInput().ns()
            - base.computeInput().ns()
            + now.computeInfer().ns()
            - base.computeInfer().ns()
            + now.computeOutput().ns()
            - base.computeOutput().ns();
    put(values, Column.RPS, (success + fail) / seconds);
    put(values, Column.IPS, inferences / seconds);
    Histogram h = interval;
    put(values, Column.P50, percentileMs(h, 50));
    put(values, Column.P95, percentileMs(h, 95));
    put(values, Column.P99, percentileMs(h, 99));
    put(values, Column.QUEUE_MS, queueCount > 0 ? queueNs / 1e6 / queueCount : Double.NaN);
    put(values, Column.COMPUTE_MS, success > 0 ? computeNs / 1e6 / success : Double.NaN);
    put(values, Column.REJECTED, (rejected - sloRefused) / seconds); // queue full
    put(values, Column.SLO_REFUSED, sloRefused / seconds);
    put(values, Column.TIMED_OUT, timedOut / seconds);
    put(
        values,
        Column.FAILED,
        Math.max(0, fail - rejected - timedOut - cancelled - invalid) / seconds);
    put(values, Column.INVALID, invalid / seconds);
    put(values, Column.CANCELLED, cancelled / seconds);
    put(values, Column.BATCH_MEAN, executions > 0 ? (double) inferences / executions : Double.NaN);
    Map<Integer, ModelStatistics.BatchStats> before = new HashMap<>();
    for (ModelStatistics.BatchStats b : base.batchStats()) {
      before.put(b.batchSize(), b);
    }
    long busyNs = 0;
    for (ModelStatistics.BatchStats b : now.batchStats()) {
      ModelStatistics.BatchStats was = before.get(b.batchSize());
      long count = b.computeInfer().count() - (was == null ? 0 : was.computeInfer().count());
      batches[bucketOf(b.batchSize())] += count;
      busyNs += phaseNs(b) - (was == null ? 0 : phaseNs(was));
    }
    put(values, Column.UTILIZATION, Math.min(1.0, busyNs / (instances * seconds * 1e9)));
  }

  private static double percentileMs(@Nullable Histogram h, double p) {
    return h == null || h.getTotalCount() == 0 ? Double.NaN : h.getValueAtPercentile(p) / 1000.0;
  }

  private static long phaseNs(ModelStatistics.BatchStats b) {
    return b.computeInput().ns() + b.computeInfer().ns() + b.computeOutput().ns();
  }

  private static void put(double[] values, Column c, double v) {
    values[c.index] = v;
  }
}
