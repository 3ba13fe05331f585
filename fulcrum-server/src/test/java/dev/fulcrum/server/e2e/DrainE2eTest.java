package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.testkit.TestModels;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Graceful shutdown on a real server: with a request inside ONNX Runtime, {@code beginDrain()}
 * turns readiness to 503 and refuses new requests with 503, while the request in flight still
 * completes with 200 and {@code awaitIdle} then returns true.
 *
 * <p>The request is held in flight deterministically, not by its size: the runtime is the real ONNX
 * Runtime backend behind a gate that, for one model, lets a forward pass start only when the test
 * opens it. No timing is asserted.
 */
class DrainE2eTest {
  private static final String GATED = TestModels.ADD_SUB_INT32;

  @TempDir Path repo;

  @Test
  void drainRefusesNewRequestsAndFinishesTheOneInFlight() throws Exception {
    TestModels.writeModel(repo, GATED);
    TestModels.writeModel(repo, "identity_fp32");
    GatedRuntime runtime = new GatedRuntime(new OnnxRuntimeBackend(), GATED);
    try (E2eServer server = E2eServer.start(repo, runtime)) {
      try {
        drain(server, runtime);
      } finally {
        runtime.open.countDown(); // never leave a worker blocked when the server closes
      }
    }
  }

  private static void drain(E2eServer server, GatedRuntime runtime) throws Exception {
    assertThat(server.get("/v2/health/ready").statusCode()).isEqualTo(200);

    int rows = 32;
    StringBuilder data = new StringBuilder("[");
    for (int i = 0; i < rows * 16; i++) {
      data.append(i == 0 ? "" : ",").append(i);
    }
    data.append(']');
    String request =
        """
          {"inputs":[{"name":"INPUT0","shape":[%d,16],"datatype":"INT32","data":%s},
                     {"name":"INPUT1","shape":[%d,16],"datatype":"INT32","data":%s}],
           "outputs":[{"name":"OUTPUT1"}]}"""
            .formatted(rows, data, rows, data);
    CompletableFuture<HttpResponse<byte[]>> inFlight =
        server.sendAsync(server.jsonRequest(inferPath(GATED), request));
    assertThat(runtime.entered.await(60, TimeUnit.SECONDS))
        .as("the request reached ONNX Runtime")
        .isTrue();
    assertThat(server.service.inFlight()).isEqualTo(1);

    server.service.beginDrain();

    assertThat(server.get("/v2/health/live").statusCode()).isEqualTo(200);
    HttpResponse<byte[]> ready = server.get("/v2/health/ready");
    assertThat(ready.statusCode()).isEqualTo(503);
    HttpResponse<byte[]> refused =
        server.post(
            inferPath("identity_fp32"),
            """
              {"inputs":[{"name":"INPUT0","shape":[1,1],"datatype":"FP32","data":[1]}]}""");
    assertThat(refused.statusCode()).as(text(refused)).isEqualTo(503);
    assertThat(error(refused)).contains("shutting down");
    assertThat(inFlight).isNotDone();

    runtime.open.countDown();
    HttpResponse<byte[]> done = inFlight.get(60, TimeUnit.SECONDS);
    assertThat(done.statusCode()).as(text(done)).isEqualTo(200);
    assertThat(output(done, "OUTPUT1").get("data").toString())
        .isEqualTo("[" + "0,".repeat(rows * 16 - 1) + "0]");
    assertThat(server.service.awaitIdle(Duration.ofSeconds(60))).isTrue();
    assertThat(server.service.inFlight()).isZero();
  }
}
