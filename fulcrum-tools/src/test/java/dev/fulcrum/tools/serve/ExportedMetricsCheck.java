package dev.fulcrum.tools.serve;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Holds PromQL queries to a real server's scrape: every metric a query reads is on {@code /metrics}
 * (or is recorded by a rule of the same file, or is Prometheus's own {@code up}), every label it
 * names is on one of those metrics' samples (or is a target label Prometheus adds), every value it
 * matches exactly or by regex is one some sample has, and every Fulcrum or Triton family it reads
 * is documented. Immutable.
 */
final class ExportedMetricsCheck {
  /**
   * Labels Prometheus attaches to every series of a scrape target: its own, and those the
   * kubernetes-pods scrape job and a PodMonitor add (docs/DEPLOYMENT.md's prometheus-adapter).
   */
  static final Set<String> TARGET_LABELS = Set.of("job", "instance", "namespace", "pod");

  /** Series Prometheus writes itself for every target (its labels are the target labels). */
  static final Set<String> PROMETHEUS_SERIES = Set.of("up");

  private static final Pattern HISTOGRAM_SUFFIX = Pattern.compile("_(bucket|sum|count)$");

  private final ScrapedMetrics scrape;
  private final Map<String, String> records;
  private final String docs;
  private final Map<String, String> notCreated;

  /**
   * @param records the recording rules in force: the series each records and its expression
   * @param docs the documentation a Fulcrum or Triton family must be named in
   * @param notCreated families the scrape may lack (only under conditions the test cannot create),
   *     each with the reason; they must still be documented
   */
  ExportedMetricsCheck(
      ScrapedMetrics scrape,
      Map<String, String> records,
      String docs,
      Map<String, String> notCreated) {
    this.scrape = scrape;
    this.records = Map.copyOf(records);
    this.docs = docs;
    this.notCreated = Map.copyOf(notCreated);
  }

  /** What is wrong with the queries, one line each; empty when nothing is. */
  List<String> problems(List<DeployArtifacts.Query> queries) {
    List<String> problems = new ArrayList<>();
    for (DeployArtifacts.Query q : queries) {
      PromQl.Reads reads;
      try {
        reads = PromQl.read(q.expr());
      } catch (IllegalArgumentException e) {
        problems.add(q.where() + ": " + e.getMessage());
        continue;
      }
      Set<String> labels = new LinkedHashSet<>(reads.groupingLabels());
      labels.addAll(q.alsoNamed());
      problems.addAll(problems(q.where(), new PromQl.Reads(reads.selectors(), labels)));
    }
    return problems;
  }

  /** What is wrong with a template variable's {@code label_values(selector, label)}. */
  List<String> problems(DeployArtifacts.TemplateQuery q) {
    PromQl.Reads reads = PromQl.read(q.selector());
    Set<String> labels = new LinkedHashSet<>(reads.groupingLabels());
    labels.add(q.label());
    return problems(q.where(), new PromQl.Reads(reads.selectors(), labels));
  }

  private List<String> problems(String where, PromQl.Reads reads) {
    List<String> problems = new ArrayList<>();
    if (reads.selectors().isEmpty()) {
      problems.add(where + ": reads no metric");
    }
    Set<String> known = new HashSet<>(TARGET_LABELS);
    for (String metric : reads.metrics()) {
      List<Map<String, String>> samples = samples(metric, where, problems, new HashSet<>());
      samples.forEach(s -> known.addAll(s.keySet()));
    }
    for (String label : reads.labels()) {
      if (!known.contains(label)) {
        problems.add(where + ": label '" + label + "' is on none of " + reads.metrics());
      }
    }
    for (PromQl.Selector selector : reads.selectors()) {
      List<Map<String, String>> samples =
          samples(selector.metric(), where, new ArrayList<>(), new HashSet<>());
      for (PromQl.Matcher m : selector.matchers()) {
        if (TARGET_LABELS.contains(m.label()) || m.value().contains("$") || samples.isEmpty()) {
          continue; // Prometheus's own labels, and Grafana's variables, have no value to check
        }
        if (m.op().equals("=")
            && !m.value().isEmpty()
            && samples.stream().noneMatch(s -> m.value().equals(s.get(m.label())))) {
          problems.add(
              where
                  + ": no "
                  + selector.metric()
                  + " sample has "
                  + m.label()
                  + "=\""
                  + m.value()
                  + "\"");
        } else if (m.op().equals("=~") && samples.stream().noneMatch(s -> matches(m, s))) {
          problems.add(
              where
                  + ": no "
                  + selector.metric()
                  + " sample's "
                  + m.label()
                  + " matches \""
                  + m.value()
                  + "\"");
        }
      }
    }
    return problems;
  }

  private static boolean matches(PromQl.Matcher m, Map<String, String> sample) {
    try {
      return Pattern.compile(m.value()).matcher(sample.getOrDefault(m.label(), "")).matches();
    } catch (PatternSyntaxException e) {
      return false;
    }
  }

  /**
   * The scraped samples a metric stands for: its own, those of the metrics a recording rule reads,
   * or one label-less sample for Prometheus's own series; problems for a metric that is none.
   */
  private List<Map<String, String>> samples(
      String metric, String where, List<String> problems, Set<String> seen) {
    if (!seen.add(metric)) {
      return List.of();
    }
    String recorded = records.get(metric);
    if (recorded != null) {
      List<Map<String, String>> samples = new ArrayList<>();
      for (String input : PromQl.read(recorded).metrics()) {
        samples.addAll(samples(input, where + " (via " + metric + ")", problems, seen));
      }
      return samples;
    }
    if (metric.contains(":")) {
      problems.add(where + ": " + metric + " is no recording rule's series");
      return List.of();
    }
    if (PROMETHEUS_SERIES.contains(metric)) {
      return List.of(Map.of());
    }
    List<Map<String, String>> samples = scrape.samples(metric);
    if (samples.isEmpty() && !notCreated.containsKey(metric)) {
      problems.add(where + ": " + metric + " is not on the server's /metrics");
    }
    if ((metric.startsWith("fulcrum_") || metric.startsWith("nv_"))
        && !docs.contains(metric)
        && !docs.contains(HISTOGRAM_SUFFIX.matcher(metric).replaceFirst(""))) {
      problems.add(where + ": " + metric + " is not documented in docs/METRICS.md");
    }
    return samples;
  }
}
