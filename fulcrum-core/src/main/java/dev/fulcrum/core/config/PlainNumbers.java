package dev.fulcrum.core.config;

/**
 * Numbers of config.yaml as a person wrote them, for messages and logs: a whole number without a
 * fraction ({@code 2}, not {@code 2.0}), any other as Java prints a double ({@code 0.5}).
 * Stateless.
 */
public final class PlainNumbers {
  private PlainNumbers() {}

  /**
   * {@code v} as written in a configuration: {@code 99}, {@code 99.9}, {@code 1.0E-4}; a whole
   * number of 1e15 or more as a double ({@code 1.0E15}), never clipped to a long.
   */
  public static String plain(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }
}
