package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.CanaryRolloutE2eTest.FRAUD;
import static dev.fulcrum.server.e2e.CanaryRolloutE2eTest.REQUEST;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.repository.ModelRepository;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server restarted with its {@code rollout:} section edited starts the rollout from the file as
 * now written, not from the verdict or share it had before (docs/MODEL_CONFIG.md, "Canary
 * rollouts": the state lives in memory); with {@code --rollout-state-dir} a version rolled back
 * stays rolled back across restarts, and is no baseline of the version after it. Real sockets, the
 * ONNX fraud classifier as versions 1, 2 (and 3).
 */
class RolloutRestartE2eTest {
  @TempDir Path repo;

  private void config(String rollout) throws Exception {
    Files.writeString(
        repo.resolve("fraud").resolve("config.yaml"),
        "max-batch-size: 64\nversion-policy: {latest: 2}\nrollout:\n  " + rollout + "\n");
  }

  private void version(String v) throws Exception {
    Files.createDirectories(repo.resolve("fraud").resolve(v));
    Files.copy(FRAUD, repo.resolve("fraud").resolve(v).resolve("model.onnx"));
  }

  private static E2eServer start(Path repository, Path stateDir) throws Exception {
    return E2eServer.serving(repository)
        .settings(ModelRepository.Settings.defaults().withRolloutStateDir(stateDir))
        .start();
  }

  /** How many of {@code n} unversioned requests each version answered, by version. */
  private static Map<String, Integer> answered(E2eServer server, int n) throws Exception {
    Map<String, Integer> by = new TreeMap<>();
    for (int i = 0; i < n; i++) {
      HttpResponse<byte[]> r = server.post(inferPath("fraud"), REQUEST);
      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      by.merge(E2eServer.header(r).get("model_version").asText(), 1, Integer::sum);
    }
    return by;
  }

  @Test
  void aVersionRolledBackStaysRolledBackAcrossRestartsWithARolloutStateDir(@TempDir Path state)
      throws Exception {
    assumeThat(FRAUD).as("the demo's fraud classifier").isRegularFile();
    version("1");
    version("2");
    config("canary-traffic-percent: 10");
    try (E2eServer first = start(repo, state)) {
      assertThat(answered(first, 20)).containsEntry("2", 2);
      HttpResponse<byte[]> back =
          first.post(
              "/v2/models/fraud/rollout",
              "{\"action\": \"rollback\", \"reason\": \"wrong answers on fraud cases\"}");
      assertThat(back.statusCode()).as(text(back)).isEqualTo(200);
    }
    Path record = state.resolve("rollout-state.json");
    assertThat(record).isRegularFile();
    JsonNode written = E2eServer.JSON.readTree(Files.readAllBytes(record));
    assertThat(written.get("models").get("fraud").get("rolled_back").get(0).get("version").asLong())
        .isEqualTo(2);

    // restarted: version 2 is not a canary again, and gets no unversioned request
    try (E2eServer second = start(repo, state)) {
      JsonNode st = rollout(second);
      assertThat(st.get("verdict").asText()).as(st.toString()).isEqualTo("ROLLED_BACK");
      assertThat(st.get("canary_traffic_percent").asInt()).isZero();
      assertThat(st.get("reason").asText())
          .contains("rolled back before this server started")
          .contains("wrong answers on fraud cases");
      assertThat(answered(second, 20)).containsOnlyKeys("1");
    }

    // the fix, version 3, is judged against version 1 (which served well), not the bad version 2
    version("3");
    try (E2eServer third = start(repo, state)) {
      JsonNode st = rollout(third);
      assertThat(st.get("verdict").asText()).as(st.toString()).isEqualTo("PROGRESSING");
      assertThat(st.get("canary").get("version").asText()).isEqualTo("3");
      assertThat(st.get("stable").get("version").asText()).isEqualTo("1");
      assertThat(answered(third, 20)).containsEntry("3", 2).containsEntry("1", 18);
    }
  }

  @Test
  void aShareSetByHandSetsARolledBackVersionGoingAgainAcrossRestarts(@TempDir Path state)
      throws Exception {
    assumeThat(FRAUD).as("the demo's fraud classifier").isRegularFile();
    version("1");
    version("2");
    config("canary-traffic-percent: 10");
    try (E2eServer first = start(repo, state)) {
      HttpResponse<byte[]> back =
          first.post("/v2/models/fraud/rollout", "{\"action\": \"rollback\"}");
      assertThat(back.statusCode()).as(text(back)).isEqualTo(200);
    }
    try (E2eServer second = start(repo, state)) {
      assertThat(rollout(second).get("verdict").asText()).isEqualTo("ROLLED_BACK");
      HttpResponse<byte[]> again =
          second.post("/v2/models/fraud/rollout", "{\"canary_traffic_percent\": 50}");
      assertThat(again.statusCode()).as(text(again)).isEqualTo(200);
    }
    // the operator's word stands: the record forgot version 2, which is a canary again (as
    // configured: the share set by hand was that run's)
    try (E2eServer third = start(repo, state)) {
      JsonNode st = rollout(third);
      assertThat(st.get("verdict").asText()).as(st.toString()).isEqualTo("PROGRESSING");
      assertThat(st.get("canary_traffic_percent").asInt()).isEqualTo(10);
    }
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
