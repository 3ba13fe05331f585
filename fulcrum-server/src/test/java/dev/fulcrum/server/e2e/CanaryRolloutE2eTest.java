package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.HttpServerConfig;
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
 * whose passes fail, an automatic promotion of a healthy one, and the operator's endpoint. Each
 * scenario has a model of its own, so their splits do not mix. Behaviour, not speed: no latency is
 * asserted (the promoting model's p99 bound is lifted, as this machine's latencies are noisy).
 */
class CanaryRolloutE2eTest {
  private static final Path FRAUD =
      E2eServer.DEMO_MODELS.resolve("fraud_classifier").resolve("1").resolve("model.onnx");

  private static final String REQUEST =
      """
      {"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32",
                  "data":[[120.0, 14, 0.1, 3.0, 2, 900, 0, 1]]}]}""";

  @TempDir static Path repo;
  private static E2eServer server;

  /** Fails every pass of {@code fraud_bad} version 2 once the test has started. */
  private static volatile boolean failing;

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
    server =
        E2eServer.start(
            repo, HttpServerConfig.DEFAULT_MAX_INPUT_SIZE, new FailingV2(new OnnxRuntimeBackend()));
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

  @Test
  void aModelWithoutARolloutHasNoRolloutEndpoint() throws Exception {
    assertThat(server.get("/v2/models/nothing/rollout").statusCode()).isEqualTo(404);
  }

  /** The ONNX backend, whose {@code fraud_bad} version 2 fails every pass once told to. */
  private static final class FailingV2 implements ModelRuntime {
    private final ModelRuntime delegate;

    FailingV2(ModelRuntime delegate) {
      this.delegate = delegate;
    }

    @Override
    public String platform() {
      return delegate.platform();
    }

    @Override
    public String defaultModelFilename() {
      return delegate.defaultModelFilename();
    }

    @Override
    public ModelInstance load(Path modelFile, SessionOptions options) throws ModelLoadException {
      ModelInstance instance = delegate.load(modelFile, options);
      boolean bad =
          modelFile.getParent().getFileName().toString().equals("2")
              && modelFile.getParent().getParent().getFileName().toString().equals("fraud_bad");
      if (!bad) {
        return instance;
      }
      return new ModelInstance() {
        @Override
        public ModelSignature signature() {
          return instance.signature();
        }

        @Override
        public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
          if (failing) {
            throw new IllegalStateException("version 2 of fraud_bad is broken");
          }
          return instance.execute(inputs, outputNames);
        }

        @Override
        public void close() {
          instance.close();
        }
      };
    }

    @Override
    public void close() {
      delegate.close();
    }
  }
}
