package dev.fulcrum.tools.tune;

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

  /** The load label of a trial the server could not load, or measure: "failed: " + why. */
  static final String FAILED = "failed: ";

  /** A trial that could not be loaded or measured: one level, with one failed request. */
  static LevelPoint failed(String why) {
    return new LevelPoint(FAILED + why, 0, 0, 0, 0, 1, 0);
  }

  /** Whether this is a trial's only level because the configuration could not be measured. */
  boolean loadFailed() {
    return load.startsWith(FAILED) && ok == 0;
  }

  /** The fraction of requests that failed (rejected, timed out, errors); 0 when none was sent. */
  double failedFraction() {
    long all = ok + failed;
    return all == 0 ? 0 : (double) failed / all;
  }

  /** The fraction of requests answered within the SLO, rejections and errors counted as misses. */
  double attainment() {
    long all = ok + failed;
    return all == 0 ? 0 : (double) withinSlo / all;
  }
}
