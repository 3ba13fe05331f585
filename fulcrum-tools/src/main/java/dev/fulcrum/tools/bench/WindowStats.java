package dev.fulcrum.tools.bench;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * What one measurement window (or several merged) saw; immutable once built, the histograms are
 * copies owned by this record and must not be recorded into.
 *
 * @param nanos the window's length
 * @param latency successful requests' latency in ns: from the scheduled send time in open loop
 *     (corrected for coordinated omission), from the actual send in closed loop
 * @param service successful requests' service time in ns, always from the actual send
 * @param outcomes completions by outcome
 * @param sends requests sent in the window
 * @param lateSends sends more than {@link LatencyRecorder#LATE_NANOS} behind schedule
 * @param maxLagNanos the largest delay of a send behind its schedule
 * @param rejected rejected (429) requests' latency in ns, measured like {@code latency}
 * @param rejectedService rejected requests' service time in ns, from the actual send: how fast the
 *     server refused, whatever the client's own lag
 */
record WindowStats(
    long nanos,
    Histogram latency,
    Histogram service,
    Map<Outcome, Long> outcomes,
    long sends,
    long lateSends,
    long maxLagNanos,
    Histogram rejected,
    Histogram rejectedService) {

  WindowStats {
    outcomes = Map.copyOf(outcomes);
  }

  /** A window without rejection latencies. */
  WindowStats(
      long nanos,
      Histogram latency,
      Histogram service,
      Map<Outcome, Long> outcomes,
      long sends,
      long lateSends,
      long maxLagNanos) {
    this(
        nanos,
        latency,
        service,
        outcomes,
        sends,
        lateSends,
        maxLagNanos,
        new Histogram(3),
        new Histogram(3));
  }

  long count(Outcome o) {
    return outcomes.getOrDefault(o, 0L);
  }

  long ok() {
    return count(Outcome.OK);
  }

  long errors() {
    return outcomes.values().stream().mapToLong(Long::longValue).sum() - ok();
  }

  /** Successful requests per second. */
  double throughput() {
    return nanos == 0 ? 0 : ok() * 1e9 / nanos;
  }

  /** Sums windows: counts and histograms add, lengths add, the max lag is the max. */
  static WindowStats merge(List<WindowStats> windows) {
    Histogram latency = new Histogram(3);
    Histogram service = new Histogram(3);
    Histogram rejected = new Histogram(3);
    Histogram rejectedService = new Histogram(3);
    Map<Outcome, Long> outcomes = new EnumMap<>(Outcome.class);
    long nanos = 0;
    long sends = 0;
    long late = 0;
    long maxLag = 0;
    for (WindowStats w : windows) {
      latency.add(w.latency);
      service.add(w.service);
      rejected.add(w.rejected);
      rejectedService.add(w.rejectedService);
      w.outcomes.forEach((k, v) -> outcomes.merge(k, v, Long::sum));
      nanos += w.nanos;
      sends += w.sends;
      late += w.lateSends;
      maxLag = Math.max(maxLag, w.maxLagNanos);
    }
    return new WindowStats(
        nanos, latency, service, outcomes, sends, late, maxLag, rejected, rejectedService);
  }
}
