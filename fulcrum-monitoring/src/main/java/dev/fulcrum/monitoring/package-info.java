/**
 * Training-serving skew and drift: {@link dev.fulcrum.monitoring.Baseline}s made from training data
 * by {@link dev.fulcrum.monitoring.Profiler}, the live {@link dev.fulcrum.monitoring.DriftMonitor}
 * (one thread, {@code fulcrum-monitor}) that compares served requests with them through per-feature
 * detectors, the {@link dev.fulcrum.monitoring.PredictionLog} and its offline {@link
 * dev.fulcrum.monitoring.LogReplay}. Depends on fulcrum-core only.
 */
@org.jspecify.annotations.NullMarked
package dev.fulcrum.monitoring;
