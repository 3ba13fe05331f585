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
}
