package dev.fulcrum.tools.tune;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The Pareto frontier of measured trials over throughput (higher is better), p99 latency and USD
 * per million inferences (lower is better), and the recommendation on it; stateless.
 *
 * <p>With one machine price the cost is a function of throughput, so the frontier is the
 * throughput-latency trade-off; the cost axis matters when trials are priced differently.
 */
final class Frontier {
  private Frontier() {}

  /**
   * The trials no other trial dominates, in descending throughput, among those that answered their
   * requests ({@link Trial#answered}): a configuration that failed to load, or whose requests
   * failed, measured no trade-off (its 0/s at p99 0 ms would dominate nothing and be dominated by
   * nothing, so it would always be on the frontier).
   */
  static List<Trial> of(List<Trial> trials) {
    List<Trial> answered = trials.stream().filter(Trial::answered).toList();
    List<Trial> out = new ArrayList<>();
    for (Trial t : answered) {
      if (answered.stream().noneMatch(o -> dominates(o, t))) {
        out.add(t);
      }
    }
    out.sort(Comparator.comparingDouble(Trial::throughput).reversed());
    return out;
  }

  /**
   * Whether {@code a} is at least as good as {@code b} on every axis and better on one. A missing
   * cost (no price given) is no axis.
   */
  static boolean dominates(Trial a, Trial b) {
    double ca = a.costPerMillion() == null ? 0 : a.costPerMillion();
    double cb = b.costPerMillion() == null ? 0 : b.costPerMillion();
    boolean noWorse = a.throughput() >= b.throughput() && a.p99Ms() <= b.p99Ms() && ca <= cb;
    boolean better = a.throughput() > b.throughput() || a.p99Ms() < b.p99Ms() || ca < cb;
    return noWorse && better;
  }

  /**
   * The recommendation: among the feasible trials measured most often (the candidates the search
   * re-measured, judged on the median of their measurements, rather than a single lucky trial the
   * candidates outranked before), the one with the highest throughput (the lower p99 on a tie).
   * Without re-measurement that is the fastest feasible trial, always on the frontier among
   * feasible trials. Empty when no trial meets the constraints.
   */
  static Optional<Trial> choose(List<Trial> trials) {
    int most =
        trials.stream()
            .filter(Trial::feasible)
            .mapToInt(t -> t.measurements().size())
            .max()
            .orElse(0);
    return trials.stream()
        .filter(t -> t.feasible() && t.measurements().size() == most)
        .max(
            Comparator.comparingDouble(Trial::throughput)
                .thenComparing(Comparator.comparingDouble(Trial::p99Ms).reversed()));
  }
}
