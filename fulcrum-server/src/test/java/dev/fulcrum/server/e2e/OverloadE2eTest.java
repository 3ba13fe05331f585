package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.Await;
import dev.fulcrum.testkit.TestModels;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Overload over real sockets, asserting counts, never times: with the model's only worker held
 * inside ONNX Runtime, a bounded queue admits exactly max-queue-size requests, refuses the rest at
 * once with 429, answers requests whose queue timeout passes with 504 without running them, and
 * every request sent is accounted for: sent = ok + rejected + timed out, on the client and in the
 * server's statistics; a priority level with a queue policy of its own is bounded and timed out by
 * it.
 */
class OverloadE2eTest {
  private static final String MODEL = TestModels.ADD_SUB_INT32;
  private static final int QUEUE = 6;

  @TempDir Path repo;

  private static String request(String parameters) {
    String row = "[" + "1,".repeat(15) + "1]";
    return """
        {%s"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":%s},
                     {"name":"INPUT1","shape":[1,16],"datatype":"INT32","data":%s}]}"""
        .formatted(parameters, row, row);
  }

  @Test
  void aFullQueueRefusesAtOnceAndNothingIsLost() throws Exception {
    TestModels.writeModel(repo, MODEL);
    Files.writeString(
        repo.resolve(MODEL).resolve("config.yaml"), "queue-policy:\n  max-queue-size: " + QUEUE);
    GatedRuntime runtime = new GatedRuntime(new OnnxRuntimeBackend(), MODEL);
    try (E2eServer server = E2eServer.start(repo, runtime)) {
      try {
        List<CompletableFuture<HttpResponse<byte[]>>> sent = new ArrayList<>();
        // 1. The first request holds the worker inside the engine.
        sent.add(server.sendAsync(server.jsonRequest(inferPath(MODEL), request(""))));
        assertThat(runtime.entered.await(60, TimeUnit.SECONDS)).isTrue();

        // 2. Two requests whose queue timeout (1 ms) passes while the worker is held: 504.
        for (int i = 0; i < 2; i++) {
          HttpResponse<byte[]> late =
              server.post(inferPath(MODEL), request("\"parameters\":{\"timeout\":1000},"));
          assertThat(late.statusCode()).as(text(late)).isEqualTo(504);
          assertThat(error(late)).contains("timed out").contains("not run");
          sent.add(CompletableFuture.completedFuture(late));
        }

        // 3. The queue admits exactly QUEUE requests...
        List<CompletableFuture<HttpResponse<byte[]>>> queued = new ArrayList<>();
        for (int i = 0; i < QUEUE; i++) {
          queued.add(server.sendAsync(server.jsonRequest(inferPath(MODEL), request(""))));
        }
        sent.addAll(queued);
        Await.until(
            "the queue holds " + QUEUE + " requests",
            () -> stats(server).at("/fulcrum/pending").asInt() == QUEUE + 1);
        // ...and refuses the next ones at once, with 429 and Retry-After.
        for (int i = 0; i < 5; i++) {
          HttpResponse<byte[]> refused = server.post(inferPath(MODEL), request(""));
          assertThat(refused.statusCode()).as(text(refused)).isEqualTo(429);
          // No pass has ended yet, so the server cannot tell when there is room: the fixed
          // Retry-After of a refusal without a hint, and no retry-after-ms.
          assertThat(refused.headers().firstValue("Retry-After")).hasValue("1");
          assertThat(refused.headers().firstValue("retry-after-ms")).isEmpty();
          assertThat(error(refused)).contains("queue is full").contains("max-queue-size 6");
          sent.add(CompletableFuture.completedFuture(refused));
        }
        // A full queue refuses before the body is even decoded: overload is cheap to refuse.
        HttpResponse<byte[]> unread = server.post(inferPath(MODEL), "{ not even JSON");
        assertThat(unread.statusCode()).as(text(unread)).isEqualTo(429);
        sent.add(CompletableFuture.completedFuture(unread));
        assertThat(queued).noneMatch(CompletableFuture::isDone);

        // 4. Release the worker: everything admitted runs.
        runtime.open.countDown();
        int ok = 0;
        int rejected = 0;
        int timedOut = 0;
        for (CompletableFuture<HttpResponse<byte[]>> f : sent) {
          int status = f.get(60, TimeUnit.SECONDS).statusCode();
          switch (status) {
            case 200 -> ok++;
            case 429 -> rejected++;
            case 504 -> timedOut++;
            default -> throw new AssertionError("unexpected status " + status);
          }
        }
        assertThat(ok + rejected + timedOut).isEqualTo(sent.size());
        assertThat(ok).isEqualTo(1 + QUEUE);
        assertThat(rejected).isEqualTo(6);
        assertThat(timedOut).isEqualTo(2);

        JsonNode stats = stats(server);
        assertThat(stats.at("/inference_stats/success/count").asInt()).isEqualTo(ok);
        assertThat(stats.at("/fulcrum/rejected").asInt()).isEqualTo(rejected);
        assertThat(stats.at("/fulcrum/timed_out").asInt()).isEqualTo(timedOut);
        assertThat(stats.at("/inference_stats/fail/count").asInt()).isEqualTo(rejected + timedOut);
        // The queued six ran together after the first: two forward passes in all.
        assertThat(stats.get("execution_count").asInt()).isEqualTo(2);
        assertThat(stats.get("inference_count").asInt()).isEqualTo(ok);
      } finally {
        runtime.open.countDown();
      }
    }
  }

  /**
   * Triton's {@code priority_queue_policy}: with the worker held, priority level 1's own bound (one
   * request) refuses its second request with 429, level 2's own queue timeout answers its request
   * with 504, and {@code GET v2/models/<m>/config} shows both levels' policies.
   */
  @Test
  void eachLevelIsBoundAndTimedOutByItsOwnPolicy() throws Exception {
    TestModels.writeModel(repo, MODEL);
    Files.writeString(
        repo.resolve(MODEL).resolve("config.yaml"),
        """
        dynamic-batching: {priority-levels: 2, default-priority-level: 2}
        priority-queue-policy:
          1: {max-queue-size: 1}
          2: {default-timeout-microseconds: 1000}
        """);
    GatedRuntime runtime = new GatedRuntime(new OnnxRuntimeBackend(), MODEL);
    try (E2eServer server = E2eServer.start(repo, runtime)) {
      try {
        String high = "\"parameters\":{\"priority\":1},";
        // The first request holds the worker inside the engine; the next level-1 one waits.
        CompletableFuture<HttpResponse<byte[]>> running =
            server.sendAsync(server.jsonRequest(inferPath(MODEL), request(high)));
        assertThat(runtime.entered.await(60, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<HttpResponse<byte[]>> queued =
            server.sendAsync(server.jsonRequest(inferPath(MODEL), request(high)));
        Await.until(
            "level 1 holds its one request",
            () -> stats(server).at("/fulcrum/pending").asInt() == 2);

        HttpResponse<byte[]> refused = server.post(inferPath(MODEL), request(high));
        assertThat(refused.statusCode()).as(text(refused)).isEqualTo(429);
        assertThat(error(refused))
            .contains("priority level 1")
            .contains("priority-queue-policy max-queue-size 1");

        // Level 2 (the default level) times out after its own 1 ms; level 1 has no timeout.
        HttpResponse<byte[]> late = server.post(inferPath(MODEL), request(""));
        assertThat(late.statusCode()).as(text(late)).isEqualTo(504);
        assertThat(error(late)).contains("timed out").contains("not run");

        JsonNode levels =
            E2eServer.JSON
                .readTree(server.get("/v2/models/" + MODEL + "/config").body())
                .at("/dynamic_batching/priority_queue_policy");
        assertThat(levels.at("/1/max_queue_size").asInt()).isEqualTo(1);
        assertThat(levels.at("/2/default_timeout_microseconds").asLong()).isEqualTo(1000);
        assertThat(levels.at("/2/timeout_action").asText()).isEqualTo("REJECT");

        runtime.open.countDown();
        assertThat(running.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(queued.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        JsonNode stats = stats(server);
        assertThat(stats.at("/fulcrum/rejected").asInt()).isEqualTo(1);
        assertThat(stats.at("/fulcrum/timed_out").asInt()).isEqualTo(1);
      } finally {
        runtime.open.countDown();
      }
    }
  }

  private static JsonNode stats(E2eServer server) throws Exception {
    HttpResponse<byte[]> r = server.get("/v2/models/" + MODEL + "/stats");
    assertThat(r.statusCode()).isEqualTo(200);
    return E2eServer.JSON.readTree(r.body()).at("/model_stats/0");
  }
}
