package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.CanaryRolloutE2eTest.FRAUD;
import static dev.fulcrum.server.e2e.CanaryRolloutE2eTest.REQUEST;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server restarted with its {@code rollout:} section edited starts the rollout from the file as
 * now written, not from the verdict or share it had before (docs/MODEL_CONFIG.md, "Canary
 * rollouts": the state lives in memory). Real sockets, the ONNX fraud classifier as versions 1 and
 * 2.
 */
class RolloutRestartE2eTest {
  @TempDir Path repo;

  private void config(String rollout) throws Exception {
    Files.writeString(
        repo.resolve("fraud").resolve("config.yaml"),
        "max-batch-size: 64\nversion-policy: {latest: 2}\nrollout:\n  " + rollout + "\n");
  }

  private static JsonNode rollout(E2eServer server) throws Exception {
    HttpResponse<byte[]> r = server.get("/v2/models/fraud/rollout");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return E2eServer.JSON.readTree(r.body());
  }

  @Test
  void aRestartWithAChangedRolloutStartsFromTheFileAsNowWritten() throws Exception {
    assumeThat(FRAUD).as("the demo's fraud classifier").isRegularFile();
    for (String v : List.of("1", "2")) {
      Files.createDirectories(repo.resolve("fraud").resolve(v));
      Files.copy(FRAUD, repo.resolve("fraud").resolve(v).resolve("model.onnx"));
    }
    config("canary-traffic-percent: 10");
    try (E2eServer first = E2eServer.start(repo)) {
      for (int i = 0; i < 20; i++) {
        assertThat(first.post(inferPath("fraud"), REQUEST).statusCode()).isEqualTo(200);
      }
      HttpResponse<byte[]> back =
          first.post("/v2/models/fraud/rollout", "{\"action\": \"rollback\"}");
      assertThat(back.statusCode()).as(text(back)).isEqualTo(200);
      assertThat(rollout(first).get("verdict").asText()).isEqualTo("ROLLED_BACK");
    }

    config("canary-steps: [20, 60]\n  min-requests: 5");
    try (E2eServer second = E2eServer.start(repo)) {
      JsonNode state = rollout(second);
      assertThat(state.get("verdict").asText()).as(state.toString()).isEqualTo("PROGRESSING");
      assertThat(state.get("canary_traffic_percent").asInt()).isEqualTo(20);
      assertThat(state.get("step_index").asInt()).isZero();
      assertThat(state.get("config").get("canary-steps").toString()).isEqualTo("[20,60]");
      assertThat(state.get("config").get("min-requests").asInt()).isEqualTo(5);
      assertThat(state.get("canary").get("requests").asLong())
          .as("nothing carried over from the first server")
          .isZero();
      int canary = 0;
      for (int i = 0; i < 10; i++) {
        HttpResponse<byte[]> r = second.post(inferPath("fraud"), REQUEST);
        canary += E2eServer.header(r).get("model_version").asText().equals("2") ? 1 : 0;
      }
      assertThat(canary).as("the new file's first step, 20 %").isEqualTo(2);
    }
  }
}
