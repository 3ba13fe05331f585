package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The shape of the monitoring files in {@code deploy/}: what Prometheus, the Prometheus Operator
 * and Grafana need to load them, and what an on-call engineer needs of each alert. What they read
 * is checked against a real server by {@link DeployArtifactsE2eTest}.
 */
class DeployArtifactsTest {
  private static final String DURATION = "^([0-9]+(ms|s|m|h|d|w|y))+$";
  private static final Set<String> SEVERITIES = Set.of("critical", "warning", "info");

  /** Grafana's built-in panel types: the dashboard needs no plugin. */
  private static final Set<String> BUILT_IN_PANELS =
      Set.of(
          "row",
          "timeseries",
          "stat",
          "gauge",
          "bargauge",
          "table",
          "state-timeline",
          "status-history",
          "heatmap",
          "text",
          "barchart",
          "histogram");

  @Test
  void everyRuleIsARecordOrAnAlertAnEngineerCanActOn() throws Exception {
    JsonNode rules = DeployArtifacts.yaml(DeployArtifacts.RULES);
    assertThat(rules.path("groups").isArray()).isTrue();
    List<String> problems = new ArrayList<>();
    Set<String> names = new HashSet<>();
    int alerts = 0;
    for (JsonNode group : rules.path("groups")) {
      String g = group.path("name").asText();
      if (g.isEmpty() || !names.add("group " + g)) {
        problems.add("a group without a name of its own: " + group.path("name"));
      }
      if (group.has("interval") && !group.get("interval").asText().matches(DURATION)) {
        problems.add(g + ": interval " + group.get("interval"));
      }
      if (!group.path("rules").isArray() || group.path("rules").isEmpty()) {
        problems.add(g + ": no rules");
      }
      for (JsonNode rule : group.path("rules")) {
        boolean record = rule.has("record");
        String name = record ? rule.path("record").asText() : rule.path("alert").asText();
        if (record == rule.has("alert") || name.isEmpty() || !names.add(name)) {
          problems.add(g + ": a rule that is not one record or one alert of its own: " + rule);
          continue;
        }
        try {
          PromQl.read(rule.path("expr").asText());
          if (rule.path("expr").asText().isBlank()) {
            problems.add(name + ": no expr");
          }
        } catch (IllegalArgumentException e) {
          problems.add(name + ": " + e.getMessage());
        }
        if (record) {
          if (!name.matches("^[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]+$")) {
            problems.add(name + ": not level:metric:operations");
          }
          continue;
        }
        alerts++;
        if (!rule.path("for").asText().matches(DURATION)) {
          problems.add(name + ": for " + rule.path("for"));
        }
        if (!SEVERITIES.contains(rule.path("labels").path("severity").asText())) {
          problems.add(name + ": severity " + rule.path("labels").path("severity"));
        }
        for (String annotation : List.of("summary", "description", "runbook")) {
          if (rule.path("annotations").path(annotation).asText().isBlank()) {
            problems.add(name + ": no annotations." + annotation);
          }
        }
      }
    }
    assertThat(problems).isEmpty();
    assertThat(alerts).isGreaterThanOrEqualTo(15);
  }

  @Test
  void everyLabelAnAlertNamesIsOnItsResult() throws Exception {
    JsonNode rules = DeployArtifacts.yaml(DeployArtifacts.RULES);
    Map<String, String> records = DeployArtifacts.records(rules);
    List<String> problems = new ArrayList<>();
    int settled = 0;
    for (DeployArtifacts.Query q : DeployArtifacts.ruleQueries(rules)) {
      Optional<Set<String>> result = DeployArtifacts.resultLabels(q.expr(), records);
      if (result.isPresent()) {
        settled++;
        for (String label : q.alsoNamed()) {
          if (!result.get().contains(label)) {
            problems.add(
                q.where() + " names $labels." + label + "; its result has " + result.get());
          }
        }
      }
    }
    assertThat(problems).isEmpty();
    assertThat(settled).as("rules whose result labels the test can tell").isGreaterThan(10);
  }

  @Test
  void thePrometheusRuleHoldsTheSameGroups() throws Exception {
    JsonNode resource = DeployArtifacts.yaml(DeployArtifacts.PROMETHEUS_RULE);
    assertThat(resource.path("apiVersion").asText()).isEqualTo("monitoring.coreos.com/v1");
    assertThat(resource.path("kind").asText()).isEqualTo("PrometheusRule");
    assertThat(resource.path("metadata").path("name").asText()).isNotEmpty();
    assertThat(resource.path("spec").path("groups"))
        .as(
            "deploy/prometheus/fulcrum-prometheusrule.yaml's spec.groups: regenerate it from"
                + " fulcrum-rules.yaml (docs/METRICS.md, \"Alerts and dashboards\")")
        .isEqualTo(DeployArtifacts.yaml(DeployArtifacts.RULES).path("groups"));
  }

  @Test
  void theDashboardImportsWithoutPluginsAndAsksForItsDataSourceAndModels() throws Exception {
    JsonNode dashboard = DeployArtifacts.json(DeployArtifacts.DASHBOARD);
    assertThat(dashboard.path("schemaVersion").asInt()).isGreaterThanOrEqualTo(36);
    assertThat(dashboard.path("uid").asText()).isNotEmpty();
    assertThat(dashboard.path("title").asText()).isNotEmpty();
    assertThat(dashboard.path("__requires")).isEmpty();

    JsonNode variables = dashboard.path("templating").path("list");
    JsonNode datasource = find(variables, "datasource");
    assertThat(datasource.path("type").asText()).isEqualTo("datasource");
    assertThat(datasource.path("query").asText()).isEqualTo("prometheus");
    assertThat(find(variables, "model").path("type").asText()).isEqualTo("query");
    assertThat(DeployArtifacts.templateQueries(dashboard))
        .extracting(DeployArtifacts.TemplateQuery::label)
        .contains("model");

    List<String> problems = new ArrayList<>();
    Set<Integer> ids = new HashSet<>();
    for (JsonNode panel : DeployArtifacts.panels(dashboard)) {
      String title = panel.path("title").asText();
      if (!BUILT_IN_PANELS.contains(panel.path("type").asText())) {
        problems.add(title + ": panel type " + panel.path("type"));
      }
      if (!ids.add(panel.path("id").asInt(-1)) || !panel.has("gridPos")) {
        problems.add(title + ": an id of its own and a gridPos");
      }
      if (panel.path("type").asText().equals("row")) {
        continue;
      }
      if (!panel.path("datasource").path("uid").asText().equals("${datasource}")) {
        problems.add(title + ": datasource " + panel.path("datasource"));
      }
      if (panel.path("targets").isEmpty()) {
        problems.add(title + ": no query");
      }
      for (JsonNode target : panel.path("targets")) {
        if (!target.path("datasource").path("uid").asText().equals("${datasource}")) {
          problems.add(title + " " + target.path("refId") + ": datasource");
        }
        String expr = target.path("expr").asText();
        if (!expr.contains("model=~\"$model\"") && PromQl.read(expr).labels().contains("model")) {
          problems.add(title + ": reads models but not $model: " + expr);
        }
      }
    }
    assertThat(problems).isEmpty();
    assertThat(ids).hasSizeGreaterThanOrEqualTo(15);
  }

  private static JsonNode find(JsonNode variables, String name) {
    for (JsonNode v : variables) {
      if (v.path("name").asText().equals(name)) {
        return v;
      }
    }
    throw new AssertionError("no template variable " + name);
  }

  @Test
  void promQlReadsMetricsMatchersAndGroupingLabels() {
    PromQl.Reads reads =
        PromQl.read(
            "sum by (job, model) (rate(nv_inference_request_failure{reason=\"BACKEND\","
                + " model=~\"$model\"}[$__rate_interval])) / on (job, model) group_left(tenant)"
                + " (x:y:z > 0) # a comment naming not_a_metric\n"
                + " or histogram_quantile(0.99, sum without (le) (a_bucket offset 5m)) > 1e3");
    assertThat(reads.metrics())
        .containsExactly("nv_inference_request_failure", "x:y:z", "a_bucket");
    assertThat(reads.selectors().get(0).matchers())
        .containsExactly(
            new PromQl.Matcher("reason", "=", "BACKEND"),
            new PromQl.Matcher("model", "=~", "$model"));
    assertThat(reads.labels()).containsExactlyInAnyOrder("job", "model", "tenant", "le", "reason");
  }

  @Test
  void promQlRefusesWhatIsNoFunctionOrNoMatcher() {
    assertThatThrownBy(() -> PromQl.read("rat(x[5m])")).hasMessageContaining("'rat' is not");
    assertThatThrownBy(() -> PromQl.read("x{a=b}")).hasMessageContaining("a quoted value");
    assertThatThrownBy(() -> PromQl.read("{__name__=\"x\"}")).hasMessageContaining("metric name");
  }
}
