package dev.fulcrum.core.config;

/**
 * A model's canary rollout, resolved from {@code rollout:} in its config.yaml
 * (docs/MODEL_CONFIG.md, "Canary rollouts"): the share of the requests that name no version which
 * the newest serving version (the canary) gets, the rest going to the next newest (the stable
 * version), and the rules that judge the canary against the stable version. Immutable.
 *
 * @param canaryTrafficPercent the canary's share of unversioned requests, 0 to 100 (KServe's {@code
 *     canaryTrafficPercent})
 * @param minRequests canary requests before any verdict
 * @param window the last requests of each version that are compared (failed share, p99, misses)
 * @param maxFailedPercentIncrease points by which the canary's failed-request percentage (server
 *     errors: HTTP 5xx, not a client's 4xx) may exceed the stable version's
 * @param maxP99Ratio the most the canary's p99 latency may be, as a multiple of the stable one's
 * @param p99SlackNanos a canary p99 within this of the stable p99 is no breach, whatever the ratio
 *     (sub-millisecond latencies have noisy ratios)
 * @param maxSloMissPercentIncrease points by which the canary's share of requests over the model's
 *     {@code slo.latency-ms} may exceed the stable version's (used only when an objective is set)
 * @param promoteAfterRequests canary requests without a breach before it is promoted; 0: promoted
 *     by hand only
 * @param promoteAfterNanos and at least this long since the rollout began (or an operator last set
 *     its share)
 */
public record RolloutConfig(
    int canaryTrafficPercent,
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
    if (canaryTrafficPercent < 0 || canaryTrafficPercent > 100) {
      throw new IllegalArgumentException("0 <= canaryTrafficPercent <= 100");
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

  /** A rollout with the given share and every rule at its default, promoted by hand only. */
  public static RolloutConfig ofPercent(int canaryTrafficPercent) {
    return new RolloutConfig(
        canaryTrafficPercent,
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
