package dev.fulcrum.monitoring;

import java.util.List;

/** Which quantile bin a value falls in: the number of inner edges at or below it. Stateless. */
final class Bins {
  private Bins() {}

  static int index(List<Double> edges, double x) {
    int lo = 0;
    int hi = edges.size();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (edges.get(mid) <= x) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  static int index(double[] edges, double x) {
    int lo = 0;
    int hi = edges.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (edges[mid] <= x) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
}
