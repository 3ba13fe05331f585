package dev.fulcrum.server.metrics;

import java.util.function.Predicate;

/**
 * The one place a family written by hand in Prometheus text format 0.0.4 is selected and opened:
 * whether the scrape's {@code name[]} selection asks for it, and its {@code # HELP} and {@code #
 * TYPE} lines, and the escaping of a label's value. Stateless.
 */
final class TextFamily {
  private TextFamily() {}

  /**
   * Writes the family's {@code # HELP} and {@code # TYPE} lines when {@code names} selects it.
   *
   * @return whether it is selected: the caller writes its samples only then, so a family not asked
   *     for is not read at all
   */
  static boolean open(
      StringBuilder sb, Predicate<String> names, String name, String type, String help) {
    if (!names.test(name)) {
      return false;
    }
    sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
    sb.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    return true;
  }

  /** A label value as the text format writes it: backslash, double quote and newline escaped. */
  static String escape(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }
}
