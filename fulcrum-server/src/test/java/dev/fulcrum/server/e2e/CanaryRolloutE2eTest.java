package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.metrics.ServerMetrics;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Canary rollouts over real sockets with the real ONNX fraud classifier copied as versions 1 and 2
 * (docs/MODEL_CONFIG.md, "Canary rollouts"): the exact split, an automatic rollback of a canary
 * whose passes fail, an automatic promotion of a healthy one, a stepped canary stepping up to its
 * promotion or rolled back at its second step, an ensemble's unversioned step split and judged, and
 * the operator's endpoint (409 on a model serving one version). Each scenario has a model of its
 * own, so their splits do not mix. Behaviour, not speed: no latency is asserted (the promoting
 * model's p99 bound is lifted, as this machine's latencies are noisy).
 */
class CanaryRolloutE2eTest {
  /** The demo's fraud classifier, copied as each version. */
  static final Path FRAUD =
      E2eServer.DEMO_MODELS.resolve("fraud_classifier").resolve("1").resolve("model.onnx");

  /** One transaction to score, naming no version. */
  static final String REQUEST =
      """
      {"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32",
                  "data":[[120.0, 14, 0.1, 3.0, 2, 900, 0, 1]]}]}\
      """;

  @TempDir static Path repo;
  private static E2eServer server;

  /** Fails every pass of {@code fraud_bad} version 2 once the test has started. */
  private static volatile boolean failing;

  /** Fails every pass of {@code fraud_stepbad} version 2 once its test has reached step 1. */
  private static volatile boolean stepFailing;

  @BeforeAll
  static void start() throws Exception {
    assumeThat(FRAUD).as("the demo's fraud classifier").isRegularFile();
    model("fraud_split", "canary-traffic-percent: 10");
    model("fraud_bad", "canary-traffic-percent: 50\n  min-requests: 10");
    model(
        "fraud_good",
        "canary-traffic-percent: 50\n"
            + "  min-requests: 10\n"
            + "  promote-after-requests: 20\n"
            + "  max-p99-ratio: 1000000");
    model(
        "fraud_steps",
        "canary-steps: [10, 50]\n"
            + "  min-requests: 10\n"
            + "  promote-after-requests: 20\n"
            + "  max-p99-ratio: 1000000");
    model("fraud_stepbad", "canary-steps: [10, 50]\n  min-requests: 10\n  max-p99-ratio: 1000000");
    model("fraud_ensv", "canary-traffic-percent: 50\n  max-p99-ratio: 1000000");
    ensemble("fraud_ens", "fraud_ensv");
    Path single = repo.resolve("fraud_single");
    Files.createDirectories(single.resolve("1"));
    Files.copy(FRAUD, single.resolve("1").resolve("model.onnx"));
    Files.writeString(
        single.resolve("config.yaml"),
        "max-batch-size: 64\nversion-policy: {latest: 2}\nrollout: {canary-traffic-percent: 10}\n");
    HookedRuntime runtime =
        new HookedRuntime(
            new OnnxRuntimeBackend(),
            file ->
                HookedRuntime.isOf(file, "fraud_bad", "2")
                    || HookedRuntime.isOf(file, "fraud_stepbad", "2"),
            file -> {
              if (failing && HookedRuntime.isOf(file, "fraud_bad")) {
                throw new IllegalStateException("version 2 of fraud_bad is broken");
              }
              if (stepFailing && HookedRuntime.isOf(file, "fraud_stepbad")) {
                throw new IllegalStateException("version 2 of fraud_stepbad broke at its step 2");
              }
            });
    server = E2eServer.start(repo, runtime);
    failing = true;
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static void model(String name, String rollout) throws IOException {
    Path dir = repo.resolve(name);
    for (String v : List.of("1", "2")) {
      Files.createDirectories(dir.resolve(v));
      Files.copy(FRAUD, dir.resolve(v).resolve("model.onnx"));
    }
    Files.writeString(
        dir.resolve("config.yaml"),
        "max-batch-size: 64\nversion-policy: {latest: 2}\nrollout:\n  " + rollout + "\n");
  }

  /** An ensemble whose one step runs {@code step} naming no version. */
  private static void ensemble(String name, String step) throws IOException {
    Path dir = repo.resolve(name);
    Files.createDirectories(dir.resolve("1"));
    Files.writeString(
        dir.resolve("config.yaml"),
        "platform: ensemble\n"
            + "max-batch-size: 64\n"
            + "inputs:\n"
            + "  - {name: features, datatype: FP32, dims: [8]}\n"
            + "outputs:\n"
            + "  - {name: probabilities, datatype: FP32, dims: [2]}\n"
            + "ensemble:\n"
            + "  steps:\n"
            + "    - model: "
            + step
            + "\n"
            + "      input-map: {features: features}\n"
            + "      output-map: {probabilities: probabilities}\n");
  }

  /** The version that answered an unversioned request, or "failed <status>". */
  private static String answer(String model) throws Exception {
    HttpResponse<byte[]> r = server.post(inferPath(model), REQUEST);
    if (r.statusCode() != 200) {
      return "failed " + r.statusCode();
    }
    return E2eServer.header(r).get("model_version").asText();
  }

  private static JsonNode rollout(String model) throws Exception {
    HttpResponse<byte[]> r = server.get("/v2/models/" + model + "/rollout");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return E2eServer.JSON.readTree(r.body());
  }

  private static JsonNode act(String model, String body) throws Exception {
    HttpResponse<byte[]> r = server.post("/v2/models/" + model + "/rollout", body);
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return E2eServer.JSON.readTree(r.body());
  }

  /**
   * The rollout's verdict once it is {@code verdict} (outcomes are counted as answers complete).
   */
  private static JsonNode awaitVerdict(String model, String verdict) throws Exception {
    long deadline = System.nanoTime() + 30_000_000_000L;
    JsonNode state = rollout(model);
    while (!state.get("verdict").asText().equals(verdict) && System.nanoTime() < deadline) {
      Thread.sleep(20);
      state = rollout(model);
    }
    assertThat(state.get("verdict").asText()).as(state.toString()).isEqualTo(verdict);
    return state;
  }

  @Test
  void tenPercentOfUnversionedRequestsGoToTheCanaryAndPinnedOnesNever() throws Exception {
    int canary = 0;
    for (int i = 0; i < 100; i++) {
      String v = answer("fraud_split");
      assertThat(v).isIn("1", "2");
      canary += v.equals("2") ? 1 : 0;
    }
    assertThat(canary).as("exactly 1 in 10").isEqualTo(10);
    for (int i = 0; i < 20; i++) {
      HttpResponse<byte[]> r = server.post("/v2/models/fraud_split/versions/1/infer", REQUEST);
      assertThat(E2eServer.header(r).get("model_version").asText()).isEqualTo("1");
    }
    JsonNode state = rollout("fraud_split");
    assertThat(state.get("canary_version").asText()).isEqualTo("2");
    assertThat(state.get("stable_version").asText()).isEqualTo("1");
    assertThat(state.get("canary_traffic_percent").asInt()).isEqualTo(10);
    assertThat(state.get("verdict").asText()).isEqualTo("PROGRESSING");
    assertThat(state.get("config").get("canary-traffic-percent").asInt()).isEqualTo(10);

    // the operator rolls back by hand, then sends everything to the canary
    JsonNode back = act("fraud_split", "{\"action\": \"rollback\", \"reason\": \"by hand\"}");
    assertThat(back.get("verdict").asText()).isEqualTo("ROLLED_BACK");
    assertThat(back.get("reason").asText()).isEqualTo("by hand");
    for (int i = 0; i < 10; i++) {
      assertThat(answer("fraud_split")).isEqualTo("1");
    }
    assertThat(act("fraud_split", "{\"canary_traffic_percent\": 100}").get("verdict").asText())
        .isEqualTo("PROGRESSING");
    for (int i = 0; i < 10; i++) {
      assertThat(answer("fraud_split")).isEqualTo("2");
    }
    // the share set by hand cleared: the rollout starts again from its configured share
    JsonNode restarted = act("fraud_split", "{\"action\": \"restart\"}");
    assertThat(restarted.get("verdict").asText()).isEqualTo("PROGRESSING");
    assertThat(restarted.get("canary_traffic_percent").asInt()).isEqualTo(10);
    assertThat(restarted.get("step_index").asInt()).isZero();
    assertThat(restarted.get("reason").asText()).isEmpty();
    int toCanary = 0;
    for (int i = 0; i < 10; i++) {
      toCanary += answer("fraud_split").equals("2") ? 1 : 0;
    }
    assertThat(toCanary).as("10 %% of 10 requests").isEqualTo(1);
    HttpResponse<byte[]> bad =
        server.post("/v2/models/fraud_split/rollout", "{\"action\": \"pause\"}");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(E2eServer.error(bad)).contains("action must be");
  }

  @Test
  void aCanaryWhosePassesFailIsRolledBackWithoutAPerson() throws Exception {
    int failed = 0;
    for (int i = 0; i < 40; i++) {
      String v = answer("fraud_bad");
      failed += v.startsWith("failed 5") ? 1 : 0;
      assertThat(v).isIn("1", "failed 500");
    }
    assertThat(failed).as("the canary's requests failed until it was judged").isPositive();
    JsonNode state = awaitVerdict("fraud_bad", "ROLLED_BACK");
    assertThat(state.get("canary_traffic_percent").asInt()).isZero();
    assertThat(state.get("reason").asText()).contains("failed requests 100.00% on the canary");
    assertThat(state.get("canary").get("failed").asLong()).isGreaterThanOrEqualTo(10);
    assertThat(state.get("stable").get("failed").asLong()).isZero();
    for (int i = 0; i < 20; i++) {
      assertThat(answer("fraud_bad")).isEqualTo("1");
    }
  }

  @Test
  void aHealthyCanaryIsPromotedAfterTheStatedRequests() throws Exception {
    for (int i = 0; i < 60; i++) {
      assertThat(answer("fraud_good")).isIn("1", "2");
    }
    JsonNode state = awaitVerdict("fraud_good", "PROMOTED");
    assertThat(state.get("canary_traffic_percent").asInt()).isEqualTo(100);
    assertThat(state.get("reason").asText()).contains("canary requests without a breach");
    for (int i = 0; i < 10; i++) {
      assertThat(answer("fraud_good")).isEqualTo("2");
    }
    // the stable version still serves a request pinned to it
    HttpResponse<byte[]> pinned = server.post("/v2/models/fraud_good/versions/1/infer", REQUEST);
    assertThat(pinned.statusCode()).isEqualTo(200);
  }

  /**
   * The rollout's state once its step is {@code index} (outcomes are counted as answers complete).
   */
  private static JsonNode awaitStep(String model, int index) throws Exception {
    long deadline = System.nanoTime() + 30_000_000_000L;
    JsonNode state = rollout(model);
    while (state.get("step_index").asInt(-1) != index && System.nanoTime() < deadline) {
      Thread.sleep(20);
      state = rollout(model);
    }
    assertThat(state.get("step_index").asInt(-1)).as(state.toString()).isEqualTo(index);
    return state;
  }

  @Test
  void aSteppedCanaryStepsUpToItsPromotion() throws Exception {
    JsonNode start = rollout("fraud_steps");
    assertThat(start.get("step_index").asInt()).isZero();
    assertThat(start.get("step_percent").asInt()).isEqualTo(10);
    assertThat(start.get("canary_traffic_percent").asInt()).isEqualTo(10);
    assertThat(start.get("config").get("canary-steps").toString()).isEqualTo("[10,50]");
    int canary = 0;
    for (int i = 0; i < 100; i++) {
      canary += answer("fraud_steps").equals("2") ? 1 : 0;
    }
    assertThat(canary).as("exactly 1 in 10 at the first step").isEqualTo(10);
    JsonNode second = awaitStep("fraud_steps", 1);
    assertThat(second.get("step_percent").asInt()).isEqualTo(50);
    assertThat(second.get("canary_traffic_percent").asInt()).isEqualTo(50);
    assertThat(second.get("step_requests").asLong()).as("a step is judged on its own").isZero();
    assertThat(second.get("verdict").asText()).isEqualTo("PROGRESSING");
    canary = 0;
    for (int i = 0; i < 20; i++) {
      canary += answer("fraud_steps").equals("2") ? 1 : 0;
    }
    assertThat(canary).as("half at the second step").isEqualTo(10);
    assertThat(awaitStep("fraud_steps", 1).get("verdict").asText())
        .as("10 canary requests at the last step, promote-after-requests is 20")
        .isEqualTo("PROGRESSING");
    for (int i = 0; i < 20; i++) {
      answer("fraud_steps");
    }
    JsonNode done = awaitVerdict("fraud_steps", "PROMOTED");
    assertThat(done.get("step_index").asInt()).isEqualTo(1);
    assertThat(done.get("step_requests").asLong()).isGreaterThanOrEqualTo(20);
    assertThat(done.get("canary_traffic_percent").asInt()).isEqualTo(100);
    for (int i = 0; i < 10; i++) {
      assertThat(answer("fraud_steps")).isEqualTo("2");
    }
    ServerMetrics metrics = new ServerMetrics(false);
    metrics.bind(server.service.repository());
    assertThat(metrics.scrape())
        .contains(
            "fulcrum_rollout_step_index{model=\"fraud_steps\",canary_version=\"2\","
                + "stable_version=\"1\"} 1");
  }

  @Test
  void aSteppedCanaryThatBreaksAtItsSecondStepIsRolledBack() throws Exception {
    for (int i = 0; i < 100; i++) {
      assertThat(answer("fraud_stepbad")).isIn("1", "2");
    }
    awaitStep("fraud_stepbad", 1);
    stepFailing = true;
    for (int i = 0; i < 40; i++) {
      assertThat(answer("fraud_stepbad")).isIn("1", "failed 500");
    }
    JsonNode state = awaitVerdict("fraud_stepbad", "ROLLED_BACK");
    assertThat(state.get("step_index").asInt()).as("rolled back at its second step").isEqualTo(1);
    assertThat(state.get("canary_traffic_percent").asInt()).isZero();
    assertThat(state.get("reason").asText()).contains("failed requests 100.00% on the canary");
    for (int i = 0; i < 10; i++) {
      assertThat(answer("fraud_stepbad")).isEqualTo("1");
    }
    // the operator's share holds: no stepping from it
    JsonNode held = act("fraud_stepbad", "{\"canary_traffic_percent\": 20}");
    assertThat(held.get("step_index").isNull()).as(held.toString()).isTrue();
    assertThat(held.get("reason").asText()).isEqualTo("share set by hand to 20%");
  }

  @Test
  void anEnsembleStepNamingNoVersionIsSplitAndCountedInTheJudgement() throws Exception {
    for (int i = 0; i < 40; i++) {
      HttpResponse<byte[]> r = server.post(inferPath("fraud_ens"), REQUEST);
      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    }
    long deadline = System.nanoTime() + 30_000_000_000L;
    JsonNode state = rollout("fraud_ensv");
    while (state.get("canary").get("requests").asLong()
                + state.get("stable").get("requests").asLong()
            < 40
        && System.nanoTime() < deadline) {
      Thread.sleep(20);
      state = rollout("fraud_ensv");
    }
    assertThat(state.get("canary").get("requests").asLong()).as(state.toString()).isEqualTo(20);
    assertThat(state.get("stable").get("requests").asLong()).isEqualTo(20);
    assertThat(state.get("canary").get("window_requests").asInt())
        .as("the ensemble's requests are in the window the judgement compares")
        .isEqualTo(20);
  }

  @Test
  void actingOnTheRolloutOfAModelServingOneVersionIsAConflict() throws Exception {
    JsonNode inactive = rollout("fraud_single");
    assertThat(inactive.get("verdict").asText()).isEqualTo("INACTIVE");
    for (String body : List.of("{\"action\": \"promote\"}", "{\"canary_traffic_percent\": 50}")) {
      HttpResponse<byte[]> r = server.post("/v2/models/fraud_single/rollout", body);
      assertThat(r.statusCode()).as(text(r)).isEqualTo(409);
      assertThat(E2eServer.error(r)).contains("no canary to act on: only version 1 serves");
    }
  }

  @Test
  void aModelWithoutARolloutHasNoRolloutEndpoint() throws Exception {
    assertThat(server.get("/v2/models/nothing/rollout").statusCode()).isEqualTo(404);
  }
}
