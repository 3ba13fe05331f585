package dev.fulcrum.monitoring;

import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;

/**
 * Told when a feature's alert is raised or cleared, on the {@code fulcrum-monitor} thread: must not
 * block (hand slow work to another thread).
 */
@FunctionalInterface
public interface DriftListener {
  /**
   * @param feature the feature's status after the change
   * @param output true for an output column (prediction drift)
   */
  void changed(String model, String version, FeatureDrift feature, boolean output);

  /**
   * A raised alert ended because its version was unloaded or reloaded (its detectors went with it),
   * not because the data came back; {@code feature} is shown clear. By default told as a change to
   * clear.
   *
   * @param why what happened to the version, for people
   */
  default void ended(
      String model, String version, FeatureDrift feature, boolean output, String why) {
    changed(model, version, feature, output);
  }
}
