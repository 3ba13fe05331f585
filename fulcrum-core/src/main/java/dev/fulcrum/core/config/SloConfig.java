package dev.fulcrum.core.config;

/**
 * A model's latency objective and price, resolved from {@code slo:} in its config.yaml and the
 * server's {@code --cost-per-hour}. Immutable.
 *
 * @param latencyNanos the latency objective: a request should be answered within this long of its
 *     admission (0: no objective; the static batcher runs and nothing is refused for latency)
 * @param percentile the share of requests (in percent, e.g. 99) that must meet it; the SLO policy
 *     plans with this quantile of the pass times it learns
 * @param costPerHour what the machine costs per hour in USD, for cost per million predictions (0:
 *     not reported)
 */
public record SloConfig(long latencyNanos, double percentile, double costPerHour) {

  /** The percentile when {@code slo:} gives none. */
  public static final double DEFAULT_PERCENTILE = 99;

  /** No objective, no price. */
  public static final SloConfig NONE = new SloConfig(0, DEFAULT_PERCENTILE, 0);

  public SloConfig {
    if (latencyNanos < 0) {
      throw new IllegalArgumentException("latencyNanos >= 0");
    }
    if (!(percentile > 0 && percentile < 100)) {
      throw new IllegalArgumentException("0 < percentile < 100");
    }
    if (!(costPerHour >= 0) || Double.isInfinite(costPerHour)) {
      throw new IllegalArgumentException("costPerHour >= 0");
    }
  }

  /** True when a latency objective is set, so that the SLO policy schedules the model. */
  public boolean hasObjective() {
    return latencyNanos > 0;
  }

  /** True when a price is set, so that cost per million predictions is reported. */
  public boolean priced() {
    return costPerHour > 0;
  }

  /** This configuration with another price (the server's, when the model sets none). */
  public SloConfig withCostPerHour(double usd) {
    return new SloConfig(latencyNanos, percentile, usd);
  }
}
