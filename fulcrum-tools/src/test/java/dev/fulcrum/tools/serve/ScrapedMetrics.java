package dev.fulcrum.tools.serve;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A Prometheus text-format scrape (format 0.0.4) read into its samples' names and labels, for the
 * tests that hold the shipped rules and dashboard to what {@code /metrics} says. Values are not
 * kept. Immutable once read.
 */
final class ScrapedMetrics {
  private final Map<String, List<Map<String, String>>> samples;

  private ScrapedMetrics(Map<String, List<Map<String, String>>> samples) {
    this.samples = samples;
  }

  static ScrapedMetrics parse(String text) {
    Map<String, List<Map<String, String>>> samples = new LinkedHashMap<>();
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
    }
    return new ScrapedMetrics(samples);
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

  /** The label sets of the samples of one name; empty when it has none. */
  List<Map<String, String>> samples(String name) {
    return samples.getOrDefault(name, List.of());
  }
}
