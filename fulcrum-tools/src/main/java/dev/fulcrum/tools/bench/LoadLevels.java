package dev.fulcrum.tools.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * Parses a load level or a range of them ({@code 8}, {@code 1:16:4} additive, {@code 1:64:x2}
 * multiplicative); stateless, thread-safe.
 */
final class LoadLevels {
  private static final int MAX_LEVELS = 1000;

  private LoadLevels() {}

  /**
   * @param spec {@code V}, {@code START:END} (step 1), {@code START:END:STEP} or {@code
   *     START:END:xFACTOR}
   * @return the levels from START up to and including END (END is added when a step overshoots)
   */
  static List<Double> parse(String spec) {
    String[] p = spec.trim().split(":");
    try {
      double start = Double.parseDouble(p[0]);
      if (p.length == 1) {
        return List.of(positive(start, spec));
      }
      if (p.length > 3) {
        throw new IllegalArgumentException("'" + spec + "': expected START[:END[:STEP|xFACTOR]]");
      }
      double end = Double.parseDouble(p[1]);
      positive(start, spec);
      if (end < start) {
        throw new IllegalArgumentException("'" + spec + "': END is below START");
      }
      String step = p.length == 3 ? p[2].trim() : "1";
      boolean multiply = step.startsWith("x") || step.startsWith("*");
      double by = Double.parseDouble(multiply ? step.substring(1) : step);
      if (multiply ? by <= 1 : by <= 0) {
        throw new IllegalArgumentException(
            "'" + spec + "': the step must be > 0 (or a factor xF with F > 1)");
      }
      List<Double> out = new ArrayList<>();
      for (double v = start; v <= end * (1 + 1e-9); v = multiply ? v * by : v + by) {
        out.add(v);
        if (out.size() > MAX_LEVELS) {
          throw new IllegalArgumentException("'" + spec + "' gives more than 1000 levels");
        }
      }
      if (Math.abs(out.get(out.size() - 1) - end) > 1e-9 * end) {
        out.add(end);
      }
      return List.copyOf(out);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + spec + "' is not a number or a range", e);
    }
  }

  /** Like {@link #parse} but every level must be a whole number (concurrency). */
  static List<Integer> parseInts(String spec) {
    List<Integer> out = new ArrayList<>();
    for (double d : parse(spec)) {
      if (d != Math.rint(d)) {
        throw new IllegalArgumentException("'" + spec + "' must give whole numbers, got " + d);
      }
      out.add((int) d);
    }
    return List.copyOf(out);
  }

  private static double positive(double v, String spec) {
    if (!(v > 0)) {
      throw new IllegalArgumentException("'" + spec + "': levels must be > 0");
    }
    return v;
  }
}
