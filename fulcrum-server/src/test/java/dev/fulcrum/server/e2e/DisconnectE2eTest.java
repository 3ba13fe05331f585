package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.Await;
import dev.fulcrum.testkit.TestModels;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that hangs up while its request waits in the queue: the request is dropped and never
 * runs. Counts only, no timing: the model's worker is held inside ONNX Runtime throughout.
 */
class DisconnectE2eTest {
  private static final String MODEL = TestModels.ADD_SUB_INT32;
  private static final String BODY =
      """
      {"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":%s},
                 {"name":"INPUT1","shape":[1,16],"datatype":"INT32","data":%s}]}"""
          .formatted("[" + "1,".repeat(15) + "1]", "[" + "2,".repeat(15) + "2]");

  @TempDir Path repo;

  @Test
  void aRequestWhoseClientHangsUpLeavesTheQueueAndNeverRuns() throws Exception {
    TestModels.writeModel(repo, MODEL);
    GatedRuntime runtime = new GatedRuntime(new OnnxRuntimeBackend(), MODEL);
    try (E2eServer server = E2eServer.start(repo, runtime)) {
      try {
        CompletableFuture<HttpResponse<byte[]>> first =
            server.sendAsync(server.jsonRequest(inferPath(MODEL), BODY));
        assertThat(runtime.entered.await(60, TimeUnit.SECONDS)).isTrue();

        byte[] body = BODY.getBytes(StandardCharsets.UTF_8);
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
          OutputStream out = socket.getOutputStream();
          out.write(
              ("POST "
                      + inferPath(MODEL)
                      + " HTTP/1.1\r\nHost: localhost\r\n"
                      + "Content-Type: application/json\r\nContent-Length: "
                      + body.length
                      + "\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
          out.write(body);
          out.flush();
          Await.until(
              "the second request is queued",
              () -> stats(server).at("/fulcrum/pending").asInt() == 2);
        } // the client hangs up while its request is queued

        Await.until(
            "the queued request is cancelled",
            () -> stats(server).at("/fulcrum/cancelled").asInt() == 1);
        assertThat(stats(server).at("/fulcrum/pending").asInt()).isEqualTo(1);

        runtime.open.countDown();
        assertThat(first.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        JsonNode s = stats(server);
        assertThat(s.at("/inference_stats/success/count").asInt()).isEqualTo(1);
        assertThat(s.get("execution_count").asInt())
            .as("the dropped request never ran")
            .isEqualTo(1);
        assertThat(s.at("/fulcrum/cancelled").asInt()).isEqualTo(1);
      } finally {
        runtime.open.countDown();
      }
    }
  }

  private static JsonNode stats(E2eServer server) throws Exception {
    HttpResponse<byte[]> r = server.get("/v2/models/" + MODEL + "/stats");
    return E2eServer.JSON.readTree(r.body()).at("/model_stats/0");
  }
}
