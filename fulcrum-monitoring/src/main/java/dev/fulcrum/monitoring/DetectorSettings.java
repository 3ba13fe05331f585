package dev.fulcrum.monitoring;

import dev.fulcrum.core.config.MonitoringConfig;

/**
 * The detectors' settings (config.yaml's {@code monitoring:}; see {@link MonitoringConfig} for each
 * field). Immutable.
 */
public record DetectorSettings(
    int window,
    double falseAlarmRate,
    double cusumK,
    int rangeWindow,
    int clearAfter,
    double psiFloor) {

  /** The defaults of config.yaml's {@code monitoring:} section. */
  public static DetectorSettings defaults() {
    return new DetectorSettings(1000, 1e-7, 0.25, 50, 2000, 0.1);
  }

  public static DetectorSettings of(MonitoringConfig c) {
    return new DetectorSettings(
        c.window(), c.falseAlarmRate(), c.cusumK(), c.rangeWindow(), c.clearAfter(), c.psiFloor());
  }
}
