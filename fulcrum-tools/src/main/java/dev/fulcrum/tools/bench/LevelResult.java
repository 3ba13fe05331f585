package dev.fulcrum.tools.bench;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The measured outcome of one load level; immutable.
 *
 * @param target "server" or "in-process"
 * @param stats the last (up to three) measurement windows merged
 * @param stable whether the stability rule was met before {@code --max-windows}
 * @param windows how many measurement windows ran
 * @param batch inferences per request
 * @param sent every request sent during the level (warm-up and drain included)
 * @param completed every request that finished (ok or error)
 * @param errors the completed requests that failed
 * @param clientCpu the client process's CPU use during measurement, 0..1 of the whole machine
 * @param server the server-side queue/compute split, or null when the server has no statistics
 * @param windowRates successful requests per second of each window merged into {@code stats}, in
 *     order: their median is a rate one hiccup (a pause of the machine in one window) cannot move
 */
record LevelResult(
    String target,
    Load load,
    WindowStats stats,
    boolean stable,
    int windows,
    int batch,
    long sent,
    long completed,
    long errors,
    double clientCpu,
    ServerStats.@Nullable Split server,
    List<Double> windowRates) {

  LevelResult {
    windowRates = List.copyOf(windowRates);
  }

  double requestsPerSecond() {
    return stats.throughput();
  }

  double inferencesPerSecond() {
    return stats.throughput() * batch;
  }

  /** Fraction of sends more than 1 ms behind their schedule (open loop). */
  double lateFraction() {
    return stats.sends() == 0 ? 0 : (double) stats.lateSends() / stats.sends();
  }
}
