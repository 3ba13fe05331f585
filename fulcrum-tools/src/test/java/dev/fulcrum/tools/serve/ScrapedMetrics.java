package dev.fulcrum.tools.serve;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A Prometheus text-format scrape (format 0.0.4) read into its samples' names and labels, for the
 * tests that hold the shipped rules and dashboard to what {@code /metrics} says, and their values.
 * Immutable once read.
 */
final class ScrapedMetrics {
  private final Map<String, List<Map<String, String>>> samples;
  private final Map<String, List<Double>> values;

  private ScrapedMetrics(
      Map<String, List<Map<String, String>>> samples, Map<String, List<Double>> values) {
    this.samples = samples;
    this.values = values;
  }

  static ScrapedMetrics parse(String text) {
    Map<String, List<Map<String, String>>> samples = new LinkedHashMap<>();
    Map<String, List<Double>> values = new LinkedHashMap<>();
    for (String line : text.split("\n", -1)) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int brace = line.indexOf('{');
      int space = line.indexOf(' ');
      String name;
      Map<String, String> labels = new LinkedHashMap<>();
      if (brace >= 0 && (space < 0 || brace < space)) {
        name = line.substring(0, brace);
        readLabels(line, brace + 1, labels);
      } else {
        if (space < 0) {
          throw new IllegalArgumentException("not a sample line: " + line);
        }
        name = line.substring(0, space);
      }
      samples.computeIfAbsent(name, n -> new ArrayList<>()).add(Map.copyOf(labels));
      String value = line.substring(line.lastIndexOf(' ') + 1);
      values.computeIfAbsent(name, n -> new ArrayList<>()).add(number(value));
    }
    return new ScrapedMetrics(samples, values);
  }

  /**
   * A sample's value as the text format writes it: a float, {@code NaN}, {@code +Inf}, {@code
   * -Inf}.
   */
  private static double number(String value) {
    return switch (value) {
      case "NaN" -> Double.NaN;
      case "+Inf" -> Double.POSITIVE_INFINITY;
      case "-Inf" -> Double.NEGATIVE_INFINITY;
      default -> Double.parseDouble(value);
    };
  }

  private static void readLabels(String line, int from, Map<String, String> labels) {
    int i = from;
    while (line.charAt(i) != '}') {
      if (line.charAt(i) == ',') {
        i++;
        continue;
      }
      int eq = line.indexOf('=', i);
      String label = line.substring(i, eq).strip();
      i = eq + 2; // ="
      StringBuilder value = new StringBuilder();
      while (line.charAt(i) != '"') {
        char c = line.charAt(i);
        if (c == '\\') {
          char next = line.charAt(i + 1);
          value.append(next == 'n' ? '\n' : next);
          i += 2;
        } else {
          value.append(c);
          i++;
        }
      }
      i++;
      labels.put(label, value.toString());
    }
  }

  /** The sample names (a histogram's {@code _bucket}, {@code _sum}, {@code _count} each). */
  Set<String> names() {
    return new TreeSet<>(samples.keySet());
  }

  /**
   * The value of the first sample of {@code name} whose labels include {@code labels}.
   *
   * @throws AssertionError when there is none
   */
  double value(String name, Map<String, String> labels) {
    List<Map<String, String>> sets = samples(name);
    for (int i = 0; i < sets.size(); i++) {
      if (sets.get(i).entrySet().containsAll(labels.entrySet())) {
        return values.get(name).get(i);
      }
    }
    throw new AssertionError("no sample " + name + labels + " among " + sets);
  }

  /** The label sets of the samples of one name; empty when it has none. */
  List<Map<String, String>> samples(String name) {
    return samples.getOrDefault(name, List.of());
  }
}
