package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.repository.ModelVersion;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model whose pass throws, and one whose pass never returns, do not take the other models down:
 * the others keep answering, the throwing one answers 500 each time, and a request queued behind
 * the hung pass is answered 504 by its queue timeout. No timing is asserted.
 */
class FaultIsolationTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String FP32 =
      "{\"mode\":\"%s\",\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}],"
          + "\"outputs\":[{\"name\":\"OUT\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}]}";

  @TempDir static Path repo;
  private static InferenceService service;
  private static HttpServer server;
  private static HttpClient client;

  @BeforeAll
  static void start() throws Exception {
    Path hanging = repo.resolve("hanging");
    Files.createDirectories(hanging.resolve("1"));
    Files.writeString(hanging.resolve("1/model.onnx"), FP32.formatted("hang"));
    service = TestModels.service(repo);
    server = new HttpServer(service, HttpServerConfig.ephemeral()).start();
    client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  }

  @AfterAll
  static void stop() {
    FakeRuntime.releaseHung();
    server.close();
    service.repository().close();
  }

  private static CompletableFuture<HttpResponse<String>> infer(String model) {
    return infer(model, "");
  }

  /** A request, with {@code parameters} (e.g. {@code "timeout":1000}) when not empty. */
  private static CompletableFuture<HttpResponse<String>> infer(String model, String parameters) {
    return client.sendAsync(
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.port() + "/v2/models/" + model + "/infer"))
            .timeout(Duration.ofSeconds(60))
            .header("Content-Type", "application/json")
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    "{\"parameters\":{%s},\"inputs\":[{\"name\":\"IN\",\"shape\":[1,2],"
                            .formatted(parameters)
                        + "\"datatype\":\"FP32\",\"data\":[1,2]}]}"))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static int status(String model) throws Exception {
    return infer(model).get(60, TimeUnit.SECONDS).statusCode();
  }

  @Test
  void throwingAndHangingModelsDoNotTakeTheOthersDown() throws Exception {
    ModelVersion hanging = service.repository().resolve("hanging", "");
    CompletableFuture<HttpResponse<String>> stuck = infer("hanging");
    Await.until(
        "a pass of 'hanging' runs",
        () -> hanging.scheduler().pending() == 1 && hanging.scheduler().queued() == 0);

    // queued behind the hung pass, with a queue timeout of 1 ms: answered by the deadline timer
    HttpResponse<String> late = infer("hanging", "\"timeout\":1000").get(60, TimeUnit.SECONDS);
    assertThat(late.statusCode()).as(late.body()).isEqualTo(504);
    JsonNode error = JSON.readTree(late.body()).get("error");
    assertThat(error.asText()).contains("timed out");

    for (int i = 0; i < 3; i++) {
      assertThat(status("exploding")).isEqualTo(500);
      assertThat(status("echo_fp32")).isEqualTo(200);
    }
    assertThat(service.repository().resolve("echo_fp32", "").statistics().snapshot().fail().count())
        .isZero();
    assertThat(stuck).isNotDone();

    FakeRuntime.releaseHung();
    assertThat(stuck.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
  }
}
