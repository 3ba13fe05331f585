package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SRE's case: the Prometheus rules and the Grafana dashboard in {@code deploy/} read only what
 * a real {@code fulcrum serve} exports, and the probes of docs/DEPLOYMENT.md's manifests are routes
 * it answers 200 once ready. One server process serves the demo's fraud classifier (drift
 * monitoring) and a copy of it with a latency objective, a price and a canary rollout, with tenants
 * (one rate-limited), tracing to a collector that is not there; it is sent answered requests, a
 * client error, refusals for a tenant's limit and a model push that fails to load, then scraped
 * once.
 */
class DeployArtifactsE2eTest {
  private static final Path DEMO_MODELS = DeployArtifacts.ROOT.resolve("demo/models");
  private static final String ONLINE = "Bearer online-0123456789abcdef";
  private static final String BACKFILL = "Bearer backfill-0123456789abcdef";
  private static final String ADMIN = "Bearer admin-0123456789abcdef";
  private static final String FRAUD =
      "{\"inputs\":[{\"name\":\"features\",\"shape\":[1,8],\"datatype\":\"FP32\","
          + "\"data\":[2500.0,3,0.9,800.0,14,20,1,0]}]}";

  /**
   * Families the rules or the dashboard read that this test cannot make appear, each with why (all
   * must still be documented). Empty: every condition the files watch is created above.
   */
  private static final Map<String, String> NOT_CREATED = Map.of();

  /** A probe in a manifest: {@code httpGet: {path: /v2/health/ready, port: http}}. */
  private static final Pattern HTTP_GET_PROBE =
      Pattern.compile("httpGet:\\s*\\{\\s*path:\\s*([^,}\\s]+)\\s*,\\s*port:\\s*([^,}\\s]+)");

  /** A fenced PromQL block of the docs. */
  private static final Pattern PROMQL_BLOCK =
      Pattern.compile("```promql\\n(.*?)```", Pattern.DOTALL);

  /** prometheus-adapter's series query in docs/DEPLOYMENT.md. */
  private static final Pattern ADAPTER_SERIES = Pattern.compile("seriesQuery: '([^']*)'");

  /** KEDA's prometheus trigger's query, in prose. */
  private static final Pattern KEDA_QUERY = Pattern.compile("`query: ([^`]*)`");

  /** A proxy's health check: HAProxy's {@code option httpchk GET /v2/health/ready}. */
  private static final Pattern HTTP_CHECK = Pattern.compile("option httpchk GET (\\S+)");

  @TempDir static Path dir;
  private static @Nullable Process server;
  private static int httpPort;
  private static int metricsPort;
  private static @Nullable ScrapedMetrics scrape;

  /** Each probe of docs/DEPLOYMENT.md and what the server answered it once ready. */
  private static final Map<String, String> PROBE_ANSWERS = new LinkedHashMap<>();

  private static final HttpClient HTTP =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void serveSendAndScrape() throws Exception {
    Path repo = Files.createDirectories(dir.resolve("repo"));
    Path onnx = DEMO_MODELS.resolve("fraud_classifier/1/model.onnx");
    for (String v : List.of("1", "2")) {
      Files.copy(
          onnx, Files.createDirectories(repo.resolve("fraud_canary/" + v)).resolve("model.onnx"));
    }
    Files.writeString(
        repo.resolve("fraud_canary/config.yaml"),
        """
        max-batch-size: 64
        version-policy: {latest: 2}
        slo: {latency-ms: 2000, cost-per-hour: 1.0}
        rollout: {canary-traffic-percent: 50, min-requests: 100000}
        """);
    Path tokens = dir.resolve("tokens");
    Files.writeString(
        tokens,
        """
        inference  online-0123456789abcdef    tenant=online
        inference  backfill-0123456789abcdef  tenant=backfill rate=0.001 burst=1 concurrency=1
        management admin-0123456789abcdef     tenant=ops
        """);
    Files.setPosixFilePermissions(tokens, PosixFilePermissions.fromString("rw-------"));
    int collector;
    try (ServerSocket nobody = new ServerSocket(0)) {
      collector = nobody.getLocalPort(); // closed: the collector is down
    }
    Path log = dir.resolve("serve.log");
    server =
        new ProcessBuilder(
                ServeProcess.command(
                    DEMO_MODELS,
                    List.of(
                        "--model-repository", repo.toString(),
                        "--model-control-mode", "explicit",
                        "--load-model", "fraud_classifier",
                        "--load-model", "fraud_canary",
                        "--cost-per-hour", "3.6",
                        "--auth-token-file", tokens.toString(),
                        "--trace-otlp-endpoint", "http://127.0.0.1:" + collector,
                        "--trace-rate", "1")))
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    httpPort = ServeProcess.port(log, ServeProcess.HTTP_PORT);
    metricsPort = ServeProcess.port(log, ServeProcess.METRICS_PORT);
    awaitReady(log);

    for (int i = 0; i < 50; i++) {
      assertThat(infer("fraud_classifier", ONLINE, FRAUD).statusCode()).isEqualTo(200);
    }
    // the SLO policy states a capacity once it has measured 100 passes of a version
    for (int i = 0; i < 260; i++) {
      assertThat(infer("fraud_canary", ONLINE, FRAUD).statusCode()).isEqualTo(200);
    }
    assertThat(infer("fraud_classifier", ONLINE, FRAUD.replace(",0]}", "]}")).statusCode())
        .as("a client error")
        .isEqualTo(400);
    List<Integer> backfill = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      backfill.add(infer("fraud_classifier", BACKFILL, FRAUD).statusCode());
    }
    assertThat(backfill).as("the tenant's burst, then its limit").containsExactly(200, 429, 429);
    // the probes while every model is ready: the failed push below makes readiness false
    // (strict readiness: an UNAVAILABLE model in the repository), as a deployment pipeline's
    // bad push would (docs/DEPLOYMENT.md)
    for (Map.Entry<String, Integer> probe : probes().entrySet()) {
      String path = probe.getKey().substring(0, probe.getKey().indexOf(' '));
      HttpResponse<String> answer = send("GET", probe.getValue(), path, null, null);
      PROBE_ANSWERS.put(probe.getKey(), answer.statusCode() + " " + answer.body());
    }
    HttpResponse<String> push =
        send(
            "POST",
            httpPort,
            "/v2/repository/models/broken/load",
            ADMIN,
            "{\"parameters\":{\"config\":\"{\\\"max-batch-size\\\": 4}\","
                + "\"file:1/model.onnx\":\"bm90IGFuIG9ubng=\"}}");
    assertThat(push.statusCode()).as(push.body()).isEqualTo(400);

    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    String text;
    do {
      text = send("GET", metricsPort, "/metrics", null, null).body();
    } while (!(text.contains("fulcrum_slo_capacity_requests_per_second{")
            && text.contains("fulcrum_model_load_failures_total{"))
        && System.nanoTime() < end
        && sleep());
    scrape = ScrapedMetrics.parse(text);
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.destroy();
      if (!server.waitFor(60, TimeUnit.SECONDS)) {
        server.destroyForcibly().waitFor();
      }
    }
  }

  private static boolean sleep() throws InterruptedException {
    Thread.sleep(200);
    return true;
  }

  private static void awaitReady(Path log) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < end) {
      if (send("GET", httpPort, "/v2/health/ready", null, null).statusCode() == 200) {
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("not ready:\n" + Files.readString(log));
  }

  private static HttpResponse<String> infer(String model, String token, String body)
      throws Exception {
    return send("POST", httpPort, "/v2/models/" + model + "/infer", token, body);
  }

  private static HttpResponse<String> send(
      String method, int port, String path, @Nullable String token, @Nullable String body)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(30))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", token);
    }
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static ExportedMetricsCheck check(Map<String, String> records) throws Exception {
    String docs =
        Files.readString(DeployArtifacts.ROOT.resolve("docs/METRICS.md"))
            + Files.readString(DeployArtifacts.ROOT.resolve("docs/MONITORING.md"));
    assertThat(scrape).isNotNull();
    return new ExportedMetricsCheck(scrape, records, docs, NOT_CREATED);
  }

  @Test
  void theRulesReadOnlyMetricsLabelsAndValuesTheServerExports() throws Exception {
    JsonNode rules = DeployArtifacts.yaml(DeployArtifacts.RULES);
    List<DeployArtifacts.Query> queries = DeployArtifacts.ruleQueries(rules);
    assertThat(queries).hasSizeGreaterThan(20);
    assertThat(check(DeployArtifacts.records(rules)).problems(queries)).isEmpty();
  }

  @Test
  void theDashboardReadsOnlyMetricsLabelsAndValuesTheServerExports() throws Exception {
    JsonNode dashboard = DeployArtifacts.json(DeployArtifacts.DASHBOARD);
    ExportedMetricsCheck check = check(Map.of());
    List<DeployArtifacts.Query> queries = DeployArtifacts.dashboardQueries(dashboard);
    assertThat(queries).hasSizeGreaterThan(20);
    List<String> problems = new ArrayList<>(check.problems(queries));
    List<DeployArtifacts.TemplateQuery> variables = DeployArtifacts.templateQueries(dashboard);
    assertThat(variables).extracting(DeployArtifacts.TemplateQuery::label).contains("model");
    variables.forEach(v -> problems.addAll(check.problems(v)));
    assertThat(problems).isEmpty();
  }

  @Test
  void theDocsPromQlReadsOnlyWhatTheServerExports() throws Exception {
    List<DeployArtifacts.Query> queries = new ArrayList<>();
    for (String doc : List.of("docs/METRICS.md", "docs/DEPLOYMENT.md", "docs/MONITORING.md")) {
      String text = Files.readString(DeployArtifacts.ROOT.resolve(doc));
      for (Pattern p : List.of(PROMQL_BLOCK, ADAPTER_SERIES, KEDA_QUERY)) {
        Matcher m = p.matcher(text);
        while (m.find()) {
          // the model an example names is the reader's (here it has no objective): any model
          String expr = m.group(1).replaceAll("model=\"[^\"]*\"", "model=~\".+\"");
          queries.add(new DeployArtifacts.Query(doc + ": " + m.group(1).strip(), expr));
        }
      }
    }
    assertThat(queries).hasSizeGreaterThanOrEqualTo(3);
    assertThat(check(Map.of()).problems(queries)).isEmpty();
  }

  @Test
  void theDeploymentDocsProbesAnswer200OnceReady() {
    assertThat(PROBE_ANSWERS.keySet())
        .as("the manifests' probes")
        .contains(
            "/v2/health/ready on port http",
            "/v2/health/live on port http",
            "/v2/health/ready on port 8002");
    assertThat(PROBE_ANSWERS)
        .allSatisfy((probe, answer) -> assertThat(answer).as(probe).startsWith("200 "));
  }

  /** The probes of docs/DEPLOYMENT.md's manifests and proxies, and the port each asks. */
  private static Map<String, Integer> probes() throws Exception {
    String doc = Files.readString(DeployArtifacts.ROOT.resolve("docs/DEPLOYMENT.md"));
    Map<String, Integer> probes = new LinkedHashMap<>();
    Matcher m = HTTP_GET_PROBE.matcher(doc);
    while (m.find()) {
      probes.put(m.group(1) + " on port " + m.group(2), port(m.group(2)));
    }
    Matcher check = HTTP_CHECK.matcher(doc);
    while (check.find()) {
      probes.put(check.group(1) + " on port http", httpPort);
    }
    return probes;
  }

  /**
   * A manifest's port: by name or number, the image's defaults (8000, 8002) or the names of the
   * Deployment's ports.
   */
  private static int port(String named) {
    return switch (named.replace("\"", "")) {
      case "http", "8000", "8080" -> httpPort;
      case "metrics", "8002" -> metricsPort;
      default -> throw new AssertionError("a probe on a port the test does not know: " + named);
    };
  }
}
