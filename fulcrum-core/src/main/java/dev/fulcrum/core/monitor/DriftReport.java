package dev.fulcrum.core.monitor;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A snapshot of one model version's drift monitor: each feature's and each output's status.
 *
 * @param model the model
 * @param version the version
 * @param enabled whether monitoring is enabled in config.yaml
 * @param problem why the version cannot be monitored (no baseline, a baseline that does not match
 *     the configuration), or null
 * @param baseline the baseline file, as shown to clients (its last path names)
 * @param observations rows compared with the baseline so far
 * @param dropped requests not monitored because the monitor's queue was full
 * @param shed rows not compared because the server's monitor was over its rate ({@code fulcrum
 *     serve --monitor-max-rate}): above it the monitor compares a uniform sample of passes; all
 *     versions together, as {@code dropped}
 * @param features the input features, in configuration order
 * @param outputs the model's outputs (prediction drift)
 */
public record DriftReport(
    String model,
    String version,
    boolean enabled,
    @Nullable String problem,
    String baseline,
    long observations,
    long dropped,
    long shed,
    List<FeatureDrift> features,
    List<FeatureDrift> outputs) {

  public DriftReport {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(version, "version");
    features = List.copyOf(features);
    outputs = List.copyOf(outputs);
  }

  /** True when any feature or output is in drift. */
  public boolean drifting() {
    return features.stream().anyMatch(FeatureDrift::drift)
        || outputs.stream().anyMatch(FeatureDrift::drift);
  }

  /**
   * One feature's status.
   *
   * @param name the feature (or output column) name
   * @param drift true while an alert is raised (hysteresis: raised once, cleared once)
   * @param score the deciding test's score: the one that raised the alert, else the one nearest its
   *     threshold
   * @param threshold that test's threshold
   * @param test that test's name ({@code cusum}, {@code psi}, {@code linf}, {@code range}, {@code
   *     missing})
   * @param since when the alert was raised, or null when none is
   * @param sinceObservation the observation (1-based, this version's count) that raised it, or 0
   * @param tests every test's latest score and threshold
   */
  public record FeatureDrift(
      String name,
      boolean drift,
      double score,
      double threshold,
      String test,
      @Nullable Instant since,
      long sinceObservation,
      List<TestScore> tests) {
    public FeatureDrift {
      tests = List.copyOf(tests);
    }
  }

  /** One test's latest score against its threshold. */
  public record TestScore(String test, double score, double threshold) {}
}
