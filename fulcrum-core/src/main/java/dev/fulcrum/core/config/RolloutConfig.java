package dev.fulcrum.core.config;

import java.util.List;

/**
 * A model's canary rollout, resolved from {@code rollout:} in its config.yaml
 * (docs/MODEL_CONFIG.md, "Canary rollouts"): the share of the requests that name no version which
 * the newest serving version (the canary) gets, the rest going to the next newest (the stable
 * version), and the rules that judge the canary against the stable version. Immutable.
 *
 * @param canarySteps the canary's shares of unversioned requests, in turn: one share, 0 to 100
 *     ({@code canary-traffic-percent}, KServe's {@code canaryTrafficPercent}), or several rising
 *     shares 1 to 100 ({@code canary-steps}), each held until the canary passes a judgement at it
 * @param minRequests canary requests at a step before it is judged (and the share steps up)
 * @param window the last requests of each version that are compared (failed share, p99, misses)
 * @param maxFailedPercentIncrease points by which the canary's failed-request percentage (server
 *     errors: HTTP 5xx, not a client's 4xx) may exceed the stable version's
 * @param maxP99Ratio the most the canary's p99 latency may be, as a multiple of the stable one's
 * @param p99SlackNanos a canary p99 within this of the stable p99 is no breach, whatever the ratio
 *     (sub-millisecond latencies have noisy ratios)
 * @param maxSloMissPercentIncrease points by which the canary's share of requests over the model's
 *     {@code slo.latency-ms} may exceed the stable version's (used only when an objective is set)
 * @param promoteAfterRequests canary requests at the last step without a breach before it is
 *     promoted; 0: promoted by hand only
 * @param promoteAfterNanos and at least this long since the last step began (with one share: since
 *     the rollout began), or since an operator last set its share
 */
public record RolloutConfig(
    List<Integer> canarySteps,
    int minRequests,
    int window,
    double maxFailedPercentIncrease,
    double maxP99Ratio,
    long p99SlackNanos,
    double maxSloMissPercentIncrease,
    long promoteAfterRequests,
    long promoteAfterNanos) {

  public static final int DEFAULT_MIN_REQUESTS = 100;
  public static final int DEFAULT_WINDOW = 1000;
  public static final double DEFAULT_MAX_FAILED_PERCENT_INCREASE = 1;
  public static final double DEFAULT_MAX_P99_RATIO = 2;
  public static final long DEFAULT_P99_SLACK_NANOS = 1_000_000;
  public static final double DEFAULT_MAX_SLO_MISS_PERCENT_INCREASE = 1;

  public RolloutConfig {
    canarySteps = List.copyOf(canarySteps);
    if (canarySteps.isEmpty()) {
      throw new IllegalArgumentException("at least one step");
    }
    int before = canarySteps.size() > 1 ? 0 : -1;
    for (int p : canarySteps) {
      if (p <= before || p > 100) {
        throw new IllegalArgumentException("steps rise within 1..100 (one step: 0..100)");
      }
      before = p;
    }
    if (minRequests < 1 || window < 1) {
      throw new IllegalArgumentException("minRequests >= 1 and window >= 1");
    }
    if (!(maxFailedPercentIncrease >= 0)
        || !(maxP99Ratio >= 1)
        || !(maxSloMissPercentIncrease >= 0)
        || p99SlackNanos < 0
        || promoteAfterRequests < 0
        || promoteAfterNanos < 0) {
      throw new IllegalArgumentException("bounds must be >= 0 (max-p99-ratio >= 1)");
    }
  }

  /** The canary's first share: where the rollout starts (the only one without steps). */
  public int canaryTrafficPercent() {
    return canarySteps.getFirst();
  }

  /** Whether the share steps up ({@code canary-steps} of more than one share). */
  public boolean stepped() {
    return canarySteps.size() > 1;
  }

  /** A rollout with the given share and every rule at its default, promoted by hand only. */
  public static RolloutConfig ofPercent(int canaryTrafficPercent) {
    return new RolloutConfig(
        List.of(canaryTrafficPercent),
        DEFAULT_MIN_REQUESTS,
        DEFAULT_WINDOW,
        DEFAULT_MAX_FAILED_PERCENT_INCREASE,
        DEFAULT_MAX_P99_RATIO,
        DEFAULT_P99_SLACK_NANOS,
        DEFAULT_MAX_SLO_MISS_PERCENT_INCREASE,
        0,
        0);
  }
}
