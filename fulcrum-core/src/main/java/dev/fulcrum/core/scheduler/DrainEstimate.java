package dev.fulcrum.core.scheduler;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * How long a request refused for load would have waited to be served: the hint a refusal carries
 * ({@link dev.fulcrum.core.error.InferenceException#retryAfter()}) so that a client that retries on
 * overload comes back when the work it was refused behind has run, rather than at once.
 *
 * <p>Estimate: the rows queued ahead of the refused request, with its own, leave in batches of
 * max-batch-size, spread over the instances; each round of batches takes one pass. The pass time is
 * a moving average of the clean passes this scheduler ran (any batch size: under overload, where
 * refusals happen, the passes are full ones). So the hint is {@code ceil(ceil(rows / maxBatchSize)
 * / instances) × mean pass}, clamped to {@link #MIN} … {@link #MAX}: not below 100 ms, because a
 * queue of a fast model drains in a few milliseconds but under sustained overload refills as fast,
 * so a retry that soon mostly meets the same full queue (and the OpenAI SDK, which adds no jitter
 * to a hint, would spend its two retries within milliseconds); above 10 s the queue's future is not
 * known and the client's own backoff should decide. None before the first pass is measured: the
 * server cannot tell. It is a hint, not a promise: arrivals in the meantime may fill the queue
 * again.
 *
 * <p>Written under its scheduler's lock (each pass's end); read from any thread (the average is
 * volatile, so a transport's early refusal reads it without the lock).
 */
final class DrainEstimate {
  /** The shortest hint given. */
  static final Duration MIN = Duration.ofMillis(100);

  /** The longest hint given. */
  static final Duration MAX = Duration.ofSeconds(10);

  /** Weight of one pass in the average: about the last 20 passes count. */
  private static final double ALPHA = 0.05;

  private final int maxBatchSize;
  private final int instances;

  /** Mean clean pass in nanoseconds; 0 before the first. */
  private volatile double meanPassNanos;

  /**
   * @param maxBatchSize the rows one pass takes at most (1 without batching)
   * @param instances the instances that run passes side by side
   */
  DrainEstimate(int maxBatchSize, int instances) {
    this.maxBatchSize = Math.max(1, maxBatchSize);
    this.instances = Math.max(1, instances);
  }

  /** A pass ended after {@code nanos}; negative: not a clean pass (ignored). Under the lock. */
  void passFinished(long nanos) {
    if (nanos <= 0) {
      return;
    }
    double mean = meanPassNanos;
    meanPassNanos = mean == 0 ? nanos : mean + ALPHA * (nanos - mean);
  }

  /**
   * The hint for a request refused with {@code rows} batch rows to serve before it is done (those
   * ahead of it and its own), or null when no pass has been measured yet.
   */
  @Nullable Duration untilServed(int rows) {
    return inRounds(1, rows);
  }

  /**
   * The hint for a request that is served in the {@code rounds}-th of rounds of {@code
   * rowsPerRound} rows each, one after the other (a sequence's requests: one per round, each round
   * a row of every sequence that has one), or null when no pass has been measured yet.
   */
  @Nullable Duration inRounds(int rounds, int rowsPerRound) {
    double mean = meanPassNanos;
    if (mean <= 0) {
      return null;
    }
    long batches = (Math.max(1, rowsPerRound) + (long) maxBatchSize - 1) / maxBatchSize;
    long passes = Math.max(1, rounds) * ((batches + instances - 1) / instances);
    double nanos = passes * mean;
    if (nanos <= MIN.toNanos()) {
      return MIN;
    }
    if (nanos >= MAX.toNanos()) {
      return MAX;
    }
    return Duration.ofNanos((long) nanos);
  }
}
