package dev.fulcrum.tools.tune;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * What one load level of a trial measured; immutable.
 *
 * @param load the level, as bench labels it ({@code c=16})
 * @param throughput successful inferences per second
 * @param p50Ms median latency of successful requests, ms
 * @param p99Ms 99th percentile latency of successful requests, ms
 * @param ok successful requests measured
 * @param failed requests that failed (rejected, timed out, errors), counted as SLO misses
 * @param withinSlo successful requests answered within the SLO ({@code ok} when there is none)
 */
record LevelPoint(
    String load,
    double throughput,
    double p50Ms,
    double p99Ms,
    long ok,
    long failed,
    long withinSlo) {

  /** The fraction of requests answered within the SLO, rejections and errors counted as misses. */
  double attainment() {
    long all = ok + failed;
    return all == 0 ? 0 : (double) withinSlo / all;
  }

  /**
   * Several measurements of one configuration as one: level by level (matched by load label, in the
   * order first seen), the median throughput, p50 and p99, and the summed request counts, so
   * attainment is pooled over every request. A level one measurement lacks (it failed) counts there
   * as no throughput and one failed request.
   */
  static List<LevelPoint> combine(List<List<LevelPoint>> measurements) {
    if (measurements.isEmpty()) {
      throw new IllegalArgumentException("nothing to combine");
    }
    if (measurements.size() == 1) {
      return List.copyOf(measurements.get(0));
    }
    Map<String, List<@Nullable LevelPoint>> byLoad = new LinkedHashMap<>();
    for (int m = 0; m < measurements.size(); m++) {
      for (LevelPoint l : measurements.get(m)) {
        List<@Nullable LevelPoint> row =
            byLoad.computeIfAbsent(
                l.load(), k -> new ArrayList<>(Collections.nCopies(measurements.size(), null)));
        row.set(m, l);
      }
    }
    List<LevelPoint> out = new ArrayList<>();
    byLoad.forEach(
        (load, row) -> {
          double[] throughput = new double[row.size()];
          List<Double> p50 = new ArrayList<>();
          List<Double> p99 = new ArrayList<>();
          long ok = 0;
          long failed = 0;
          long within = 0;
          for (int m = 0; m < row.size(); m++) {
            LevelPoint l = row.get(m);
            if (l == null) {
              failed++;
              continue;
            }
            throughput[m] = l.throughput();
            p50.add(l.p50Ms());
            p99.add(l.p99Ms());
            ok += l.ok();
            failed += l.failed();
            within += l.withinSlo();
          }
          out.add(
              new LevelPoint(
                  load,
                  median(throughput),
                  median(p50.stream().mapToDouble(Double::doubleValue).toArray()),
                  median(p99.stream().mapToDouble(Double::doubleValue).toArray()),
                  ok,
                  failed,
                  within));
        });
    return out;
  }

  /** The median (the mean of the middle two of an even count; 0 of none). */
  static double median(double[] values) {
    if (values.length == 0) {
      return 0;
    }
    double[] v = values.clone();
    Arrays.sort(v);
    int n = v.length;
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
}
