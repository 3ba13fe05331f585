package dev.fulcrum.core.scheduler;

import java.util.List;

/**
 * The highest arrival rate a model version's instances can serve within its latency objective, from
 * the pass times its SLO policy learned: what an autoscaler divides the offered rate by.
 *
 * <p>Derivation. Let the objective be L at percentile p, and D = L - m the deadline the policy
 * plans to (m, {@link #marginNanos}: joins, splits, completion and the transport's write, which the
 * pass times do not see). For a batch of b rows let t(b) be the learned mean pass time and t_p(b)
 * the planned one (the mean plus the percentile's deviations); n instances each run one pass at a
 * time.
 *
 * <ul>
 *   <li>Throughput. With every pass carrying b rows and the instances busy back to back, they serve
 *       n·b / t(b) rows a second; no more, and a rate above it makes the queue grow.
 *   <li>Latency. At that rate a pass leaves every t(b) / n on average, taking the rows that arrived
 *       since the one before (an assumption: the instances' passes spread out over the pass time,
 *       as an instance that ran a short pass frees up sooner and takes the next; in lock step the
 *       wait would be a whole pass and the capacity lower). A request waits for the next instance
 *       to free up, the pass ahead: at most that gap, t(b) / n, counted at its mean, as the
 *       policy's own steady-load plan counts the passes running ahead; then its own pass of at most
 *       b rows, at the percentile: t_p(b). It is within the objective at the percentile when t(b) /
 *       n + t_p(b) <= D. With one instance this is the dynamic batcher's two passes: the one it
 *       arrived during and its own.
 * </ul>
 *
 * So the capacity is the largest n·b / t(b) over the batch sizes b (1 to max-batch-size) with t(b)
 * / n + t_p(b) <= D; 0 when no size meets it (the objective is too tight for this replica even
 * unbatched: a request that arrives to an idle replica may still make it, but no sustained rate
 * does). It is an upper bound: it assumes the passes are full at b, while Poisson arrivals leave
 * some passes short and queue bursts that the policy then refuses, so the highest rate that holds
 * the objective's percentile is below it (bench/capacity.sh measures how far). Sizes the policy has
 * not run yet are what its model fits from the sizes it has run (with one size only, a cost in
 * proportion to the rows: no gain from batching), so a replica that has seen only light load states
 * its capacity low until larger batches have run. The capacity is in rows (predictions) a second;
 * {@link #requestsPerSecond} turns it into requests for a given number of rows a request. It does
 * not see the CPU a request costs outside the passes (the transport's decoding, encoding and
 * writes): the capacity a replica states is the lowest of this, the process's CPU bound and, while
 * it refuses more than the objective allows, the bound observed from those refusals ({@link
 * dev.fulcrum.core.stats.SloAccounting.Load#of}).
 *
 * <p>A model without an objective has none: its static batcher learns no pass times, and without a
 * latency bound the capacity is only the saturation throughput, which {@code
 * fulcrum_model_utilization_ratio} already tracks. {@link State#NONE} says so.
 *
 * <p>Immutable.
 *
 * @param state whether the capacity is known
 * @param rowsPerSecond the capacity in rows (predictions) a second (0 unless {@link State#KNOWN})
 * @param batchSize the batch size it is reached at (0 unless known)
 * @param latencyNanos the objective's latency the capacity is for (0 without one)
 */
public record SloCapacity(State state, double rowsPerSecond, int batchSize, long latencyNanos) {

  /** Whether and why a capacity is stated. */
  public enum State {
    /** No latency objective (the static batcher): nothing is stated. */
    NONE,
    /**
     * Fewer than {@link #WARM_PASSES} passes measured: the pass times are still the cold ones, and
     * a capacity from them would be far too low.
     */
    LEARNING,
    /** No batch size meets the objective with a pass ahead of it: the capacity is 0. */
    TOO_TIGHT,
    /** The capacity is stated. */
    KNOWN;

    /** The state's name as the {@code /slo} document writes it. */
    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ');
    }
  }

  /** Passes the pass-time table must hold before a capacity is stated (the policy's warm-up). */
  public static final int WARM_PASSES = SloBatchingPolicy.WARM_PASSES;

  /** No capacity stated, for a model without an objective. */
  public static final SloCapacity NONE = new SloCapacity(State.NONE, 0, 0, 0);

  public SloCapacity {
    if (!(rowsPerSecond >= 0) || Double.isInfinite(rowsPerSecond)) {
      throw new IllegalArgumentException("rowsPerSecond >= 0 and finite");
    }
  }

  /**
   * What the SLO policy keeps off its deadline for what the pass times do not see: joins, splits,
   * completion and the transport's write. The policy and the capacity share it.
   */
  public static long marginNanos(long latencyNanos) {
    return Math.max(50_000, latencyNanos / 20);
  }

  /**
   * The capacity at the objective from a learned pass-time table (see the class comment).
   *
   * @param latencyNanos the objective (0: none, {@link #NONE})
   * @param instances the instances running passes, at least 1
   * @param passTimes the policy's table, one entry per batch size (empty: nothing learned)
   */
  public static SloCapacity of(
      long latencyNanos, int instances, List<PolicyState.PassTime> passTimes) {
    if (latencyNanos <= 0) {
      return NONE;
    }
    long measured = 0;
    for (PolicyState.PassTime t : passTimes) {
      measured += t.samples();
    }
    if (measured < WARM_PASSES) {
      return new SloCapacity(State.LEARNING, 0, 0, latencyNanos);
    }
    int n = Math.max(1, instances);
    double deadline = latencyNanos - marginNanos(latencyNanos);
    double best = 0;
    int bestSize = 0;
    for (PolicyState.PassTime t : passTimes) {
      double mean = t.meanNanos();
      if (mean <= 0) {
        continue; // nothing known of this size
      }
      double latency = mean / n + Math.max(t.quantileNanos(), mean);
      double rate = n * t.batchSize() * 1e9 / mean;
      if (latency <= deadline && rate > best) {
        best = rate;
        bestSize = t.batchSize();
      }
    }
    return bestSize == 0
        ? new SloCapacity(State.TOO_TIGHT, 0, 0, latencyNanos)
        : new SloCapacity(State.KNOWN, best, bestSize, latencyNanos);
  }

  /** True when a capacity (possibly 0, {@link State#TOO_TIGHT}) is stated. */
  public boolean stated() {
    return state == State.KNOWN || state == State.TOO_TIGHT;
  }

  /**
   * The capacity in requests a second, for requests of {@code rowsPerRequest} rows on average (at
   * least 1).
   */
  public double requestsPerSecond(double rowsPerRequest) {
    return rowsPerSecond / Math.max(1, rowsPerRequest);
  }
}
