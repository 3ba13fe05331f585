package dev.fulcrum.tools.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The monitoring files the project ships ({@code deploy/prometheus}, {@code deploy/grafana}) and
 * the PromQL they hold, for the tests that keep them true. Stateless.
 */
final class DeployArtifacts {
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  static final Path RULES = ROOT.resolve("deploy/prometheus/fulcrum-rules.yaml");
  static final Path PROMETHEUS_RULE = ROOT.resolve("deploy/prometheus/fulcrum-prometheusrule.yaml");
  static final Path DASHBOARD = ROOT.resolve("deploy/grafana/fulcrum-dashboard.json");

  /** A Grafana template query: {@code label_values(<selector>, <label>)}. */
  private static final Pattern LABEL_VALUES =
      Pattern.compile("^label_values\\((.*),\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*\\)$", Pattern.DOTALL);

  /**
   * One PromQL expression, where it is (a rule's or a panel's name), and the labels of its result
   * that are named elsewhere (an alert's annotations, a panel's legend).
   */
  record Query(String where, String expr, Set<String> alsoNamed) {
    Query(String where, String expr) {
      this(where, expr, Set.of());
    }
  }

  /** A label an alert's annotation or label template names: {@code {{ $labels.model }}}. */
  private static final Pattern TEMPLATE_LABEL =
      Pattern.compile("\\$labels\\.([A-Za-z_][A-Za-z0-9_]*)");

  /** A label a Grafana legend names: {@code {{model}}}. */
  private static final Pattern LEGEND_LABEL =
      Pattern.compile("\\{\\{\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*}}");

  /** A Grafana template variable's query: the selector it reads and the label it lists. */
  record TemplateQuery(String where, String selector, String label) {}

  private DeployArtifacts() {}

  static JsonNode yaml(Path file) throws IOException {
    return new YAMLMapper().readTree(file.toFile());
  }

  static JsonNode json(Path file) throws IOException {
    return new ObjectMapper().readTree(file.toFile());
  }

  /** The recording rules: the series each records, and its expression. */
  static Map<String, String> records(JsonNode rules) {
    Map<String, String> records = new LinkedHashMap<>();
    for (JsonNode group : rules.path("groups")) {
      for (JsonNode rule : group.path("rules")) {
        if (rule.has("record")) {
          records.put(rule.get("record").asText(), rule.path("expr").asText());
        }
      }
    }
    return records;
  }

  /** Every rule's expression, recording and alerting. */
  static List<Query> ruleQueries(JsonNode rules) {
    List<Query> queries = new ArrayList<>();
    for (JsonNode group : rules.path("groups")) {
      for (JsonNode rule : group.path("rules")) {
        String name =
            rule.has("alert")
                ? "alert " + rule.get("alert").asText()
                : "record " + rule.path("record").asText();
        Set<String> named = new TreeSet<>();
        for (JsonNode text : List.of(rule.path("annotations"), rule.path("labels"))) {
          text.forEach(t -> named.addAll(matches(TEMPLATE_LABEL, t.asText())));
        }
        queries.add(new Query(name, rule.path("expr").asText(), named));
      }
    }
    return queries;
  }

  /** The dashboard's panels, rows' collapsed panels included. */
  static List<JsonNode> panels(JsonNode dashboard) {
    List<JsonNode> panels = new ArrayList<>();
    for (JsonNode panel : dashboard.path("panels")) {
      panels.add(panel);
      panel.path("panels").forEach(panels::add);
    }
    return panels;
  }

  /** Every panel query of the dashboard. */
  static List<Query> dashboardQueries(JsonNode dashboard) {
    List<Query> queries = new ArrayList<>();
    for (JsonNode panel : panels(dashboard)) {
      for (JsonNode target : panel.path("targets")) {
        queries.add(
            new Query(
                "panel '" + panel.path("title").asText() + "' " + target.path("refId").asText(),
                target.path("expr").asText(),
                matches(LEGEND_LABEL, target.path("legendFormat").asText())));
      }
    }
    return queries;
  }

  /** An aggregation with its {@code by} list first: {@code sum by (job, model) (...)}. */
  private static final Pattern AGGREGATION_BY =
      Pattern.compile(
          "^(?:sum|min|max|avg|count|group|stddev|stdvar)\\s+by\\s*\\(([^)]*)\\)", Pattern.DOTALL);

  private static final Pattern LEADING_NAME =
      Pattern.compile("^([A-Za-z_:][A-Za-z0-9_:]*)\\s*(\\{|$|[^A-Za-z0-9_:(])");

  /**
   * The labels of an expression's result where its leftmost operand settles them: an aggregation
   * {@code by} a list, or a recording rule's series (whose own expression settles them); empty
   * where that takes reading PromQL's semantics (a raw metric, a function).
   */
  static Optional<Set<String>> resultLabels(String expr, Map<String, String> records) {
    String e = expr.strip();
    Matcher by = AGGREGATION_BY.matcher(e);
    if (by.find()) {
      Set<String> labels = new TreeSet<>();
      for (String label : by.group(1).split(",")) {
        if (!label.isBlank()) {
          labels.add(label.strip());
        }
      }
      return Optional.of(labels);
    }
    Matcher name = LEADING_NAME.matcher(e);
    if (name.find() && records.containsKey(name.group(1))) {
      return resultLabels(records.get(name.group(1)), records);
    }
    return Optional.empty();
  }

  private static Set<String> matches(Pattern p, String text) {
    Set<String> found = new TreeSet<>();
    Matcher m = p.matcher(text);
    while (m.find()) {
      found.add(m.group(1));
    }
    return found;
  }

  /** The dashboard's {@code label_values} template queries. */
  static List<TemplateQuery> templateQueries(JsonNode dashboard) {
    List<TemplateQuery> queries = new ArrayList<>();
    for (JsonNode variable : dashboard.path("templating").path("list")) {
      if (!variable.path("type").asText().equals("query")) {
        continue;
      }
      JsonNode query = variable.path("query");
      String text = query.isObject() ? query.path("query").asText() : query.asText();
      Matcher m = LABEL_VALUES.matcher(text.strip());
      if (!m.matches()) {
        throw new AssertionError(
            "variable " + variable.path("name") + ": not a label_values query: " + text);
      }
      queries.add(
          new TemplateQuery("variable $" + variable.path("name").asText(), m.group(1), m.group(2)));
    }
    return queries;
  }
}
