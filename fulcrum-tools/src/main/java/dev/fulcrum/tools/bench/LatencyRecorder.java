package dev.fulcrum.tools.bench;

import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.jspecify.annotations.Nullable;

/**
 * Records sends and completions from any number of threads (HdrHistogram {@link Recorder}s and
 * adders, wait-free for the recording threads) and cuts them into windows from one reader thread.
 */
final class LatencyRecorder {
  /** A send later than this behind its schedule counts as late (perf_analyzer's threshold). */
  static final long LATE_NANOS = 1_000_000;

  private final LongSupplier clock;
  private final Recorder latency = new Recorder(3);
  private final Recorder service = new Recorder(3);
  private final Recorder rejected = new Recorder(3);
  private final Recorder rejectedService = new Recorder(3);
  private final Map<Outcome, LongAdder> outcomes = new EnumMap<>(Outcome.class);
  private final LongAdder sends = new LongAdder();
  private final LongAdder lateSends = new LongAdder();
  private final LongAccumulator maxLag = new LongAccumulator(Math::max, 0);
  private @Nullable Histogram latencyRecycle;
  private @Nullable Histogram serviceRecycle;
  private @Nullable Histogram rejectedRecycle;
  private @Nullable Histogram rejectedServiceRecycle;
  private long windowStart;

  /**
   * @param clock {@link System#nanoTime} or a fake
   */
  LatencyRecorder(LongSupplier clock) {
    this.clock = clock;
    for (Outcome o : Outcome.values()) {
      outcomes.put(o, new LongAdder());
    }
    windowStart = clock.getAsLong();
  }

  /** A request went out at {@code sentNanos}; it was due at {@code scheduledNanos}. */
  void sent(long scheduledNanos, long sentNanos) {
    sends.increment();
    long lag = sentNanos - scheduledNanos;
    if (lag > LATE_NANOS) {
      lateSends.increment();
    }
    maxLag.accumulate(lag);
  }

  /**
   * A request finished. Latency is {@code completed - scheduled} (in closed loop the caller passes
   * scheduled = sent), service time {@code completed - sent}; only successes enter the latency
   * histograms, so fast rejections cannot flatter the percentiles. Rejections (429) have their own
   * latency histogram, measured like the successes' latency; other errors enter none.
   */
  void completed(long scheduledNanos, long sentNanos, long completedNanos, Outcome outcome) {
    Objects.requireNonNull(outcomes.get(outcome), "every outcome has a counter").increment();
    if (outcome == Outcome.OK) {
      latency.recordValue(Math.max(0, completedNanos - scheduledNanos));
      service.recordValue(Math.max(0, completedNanos - sentNanos));
    } else if (outcome == Outcome.REJECTED) {
      rejected.recordValue(Math.max(0, completedNanos - scheduledNanos));
      rejectedService.recordValue(Math.max(0, completedNanos - sentNanos));
    }
  }

  /** Ends the current window and starts the next; call from one thread only. */
  WindowStats cut() {
    long now = clock.getAsLong();
    latencyRecycle = latency.getIntervalHistogram(latencyRecycle);
    serviceRecycle = service.getIntervalHistogram(serviceRecycle);
    rejectedRecycle = rejected.getIntervalHistogram(rejectedRecycle);
    rejectedServiceRecycle = rejectedService.getIntervalHistogram(rejectedServiceRecycle);
    Map<Outcome, Long> counts = new EnumMap<>(Outcome.class);
    outcomes.forEach((k, v) -> counts.put(k, v.sumThenReset()));
    WindowStats w =
        new WindowStats(
            now - windowStart,
            latencyRecycle.copy(),
            serviceRecycle.copy(),
            counts,
            sends.sumThenReset(),
            lateSends.sumThenReset(),
            maxLag.getThenReset(),
            rejectedRecycle.copy(),
            rejectedServiceRecycle.copy());
    windowStart = now;
    return w;
  }
}
