package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.testkit.demo.MiniLmPipelines;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pipeline's statistics count each request once, as its client saw it: a {@code batching: alone}
 * request of many rows runs a pass per row but is one request, and one whose row the tokenizer
 * refuses is one failure (a 400: reason OTHER, not BACKEND) with none of its rows a success.
 */
class PipelineStatisticsE2eTest {
  private static final String LONG = "word ".repeat(40).trim(); // 42 tokens, over max-length 16

  @TempDir static Path repo;
  @AutoClose private static E2eServer server;

  @BeforeAll
  static void start() throws Exception {
    assumeThat(E2eServer.MINILM_FILE).as("the MiniLM file (placed by the build)").isRegularFile();
    MiniLmPipelines.write(
        E2eServer.DEMO_MODELS,
        repo,
        "strict",
        """
        max-batch-size: 8
        pipeline:
          model-file: model.onnx
          engine-output: last_hidden_state
          output: embedding
          batching: alone
          pre:
            - step: tokenize
              tokenizer: tokenizer.json
              max-length: 16
              truncation: false
          post:
            - step: mean-pool
            - step: normalize
        """);
    server = E2eServer.start(repo);
  }

  private static HttpResponse<byte[]> infer(String... rows) throws Exception {
    String data = List.of(rows).stream().map(E2eServer::quote).collect(Collectors.joining(","));
    return server.post(
        inferPath("strict"),
        "{\"inputs\":[{\"name\":\"text\",\"shape\":["
            + rows.length
            + ",1],\"datatype\":\"BYTES\",\"data\":["
            + data
            + "]}]}");
  }

  private static JsonNode stats() throws Exception {
    return E2eServer.JSON
        .readTree(server.get("/v2/models/strict/stats").body())
        .get("model_stats")
        .get(0);
  }

  private static long count(JsonNode stats, String field) {
    return stats.get("inference_stats").get(field).get("count").asLong();
  }

  @Test
  void aManyRowRequestCountsOnceAndOneWithARefusedRowCountsAsOneInvalidFailure() throws Exception {
    JsonNode before = stats();
    HttpResponse<byte[]> ok = infer("a", "b", "c");
    assertThat(ok.statusCode()).as(text(ok)).isEqualTo(200);
    JsonNode afterOk = stats();
    assertThat(count(afterOk, "success") - count(before, "success")).isEqualTo(1);
    assertThat(count(afterOk, "fail") - count(before, "fail")).isZero();
    // Each row still ran in a pass of its own.
    assertThat(afterOk.get("inference_count").asLong() - before.get("inference_count").asLong())
        .isEqualTo(3);
    assertThat(afterOk.get("execution_count").asLong() - before.get("execution_count").asLong())
        .isEqualTo(3);

    for (String[] rows :
        List.of(
            new String[] {"ok", LONG},
            new String[] {"a", "b", LONG},
            new String[] {LONG, "ok"},
            new String[] {LONG})) {
      JsonNode a = stats();
      HttpResponse<byte[]> r = infer(rows);
      assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
      assertThat(text(r)).contains("max-length");
      JsonNode b = stats();
      assertThat(count(b, "success") - count(a, "success")).as(List.of(rows).toString()).isZero();
      assertThat(count(b, "fail") - count(a, "fail")).as(List.of(rows).toString()).isEqualTo(1);
      assertThat(
              b.get("fulcrum").get("invalid").asLong() - a.get("fulcrum").get("invalid").asLong())
          .as(List.of(rows).toString())
          .isEqualTo(1);
    }
  }

  @Test
  void anAnswerItsTransportCannotDeliverCountsAsThatFailureNotAsASuccess() throws Exception {
    // A transport's delivery (Triton's shared memory outputs) runs before the pipeline counts the
    // request: one whose output region is too small fails it, counted as that failure.
    InferenceRequest request =
        new InferenceRequest(
            "strict",
            "",
            "id",
            Map.of(),
            List.of(
                Tensor.ofBytes(
                    "text", new long[] {1, 1}, List.of("hello".getBytes(StandardCharsets.UTF_8)))),
            List.of(),
            RequestOptions.NONE);
    ModelVersion mv = server.service.admissionCheck("strict", "");
    JsonNode before = stats();
    var failed =
        server.service.infer(
            mv,
            request,
            null,
            null,
            r -> {
              throw InferenceException.invalid("output 'embedding' does not fit");
            });
    assertThatThrownBy(() -> failed.get(30, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .hasCauseInstanceOf(InferenceException.class);
    JsonNode after = stats();
    assertThat(count(after, "success") - count(before, "success")).isZero();
    assertThat(count(after, "fail") - count(before, "fail")).isEqualTo(1);
  }
}
