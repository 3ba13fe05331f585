package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The refusals a request on the OpenAI API's paths can meet before its handler runs (a body over
 * the limit, with or without {@code Expect: 100-continue}; a content coding not undone; a body that
 * does not inflate; headers over the limit) and a full queue behind {@code /v1/embeddings}, over a
 * real socket: each comes in OpenAI's error shape ({@code {"error": {"message", "type", "param",
 * "code"}}}, which the OpenAI SDKs read into their exceptions' {@code message}), with the status
 * and headers the OIP paths get; the same refusal on an OIP path keeps OIP's shape.
 */
class OpenAiRefusalsE2eTest {
  private static final Path DEMO = E2eServer.DEMO_MODELS;
  private static final int LIMIT = 1024;

  @TempDir Path repo;

  /** The {@code error} object of an OpenAI-shaped error answer with this status. */
  private static JsonNode openAiError(int status, String head, byte[] body) throws Exception {
    assertThat(head).as(head).startsWith("HTTP/1.1 " + status + " ");
    JsonNode error = E2eServer.JSON.readTree(body).get("error");
    assertThat(error).as(head).isNotNull();
    assertThat(error.isObject()).as("OpenAI's shape: %s", new String(body, UTF8)).isTrue();
    assertThat(error.get("message").asText()).isNotEmpty();
    assertThat(error.get("type").asText())
        .isEqualTo(status >= 500 ? "server_error" : "invalid_request_error");
    assertThat(error.has("param")).isTrue();
    assertThat(error.has("code")).isTrue();
    return error;
  }

  private static JsonNode openAiError(HttpResponse<byte[]> r, int status) throws Exception {
    return openAiError(status, "HTTP/1.1 " + r.statusCode() + " ", r.body());
  }

  private static final java.nio.charset.Charset UTF8 = StandardCharsets.UTF_8;

  /**
   * Writes {@code request} on a fresh connection and reads the answer until the server closes it:
   * the head (status line and headers) and the body.
   */
  private static String[] raw(E2eServer server, byte[] request) throws Exception {
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(30_000);
      OutputStream out = s.getOutputStream();
      out.write(request);
      out.flush();
      s.shutdownOutput();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      in.transferTo(all);
      String answer = all.toString(StandardCharsets.ISO_8859_1);
      int end = answer.indexOf("\r\n\r\n");
      assertThat(end).as(answer).isPositive();
      return new String[] {answer.substring(0, end), answer.substring(end + 4)};
    }
  }

  @Test
  void refusalsBeforeTheHandlerComeInOpenAisShapeOnV1AndInOipsElsewhere() throws Exception {
    try (E2eServer server = E2eServer.start(repo, LIMIT, new OnnxRuntimeBackend())) {
      String big = "{\"model\":\"m\",\"input\":\"" + "x".repeat(2 * LIMIT) + "\"}";

      // 413: a body over the limit, refused by the aggregator.
      HttpResponse<byte[]> tooLarge = server.post("/v1/embeddings", big);
      assertThat(openAiError(tooLarge, 413).get("message").asText())
          .contains("limit of " + LIMIT + " bytes");
      assertThat(tooLarge.headers().firstValue("Content-Type")).hasValue("application/json");
      // The same on an OIP path stays in OIP's shape.
      HttpResponse<byte[]> oip = server.post("/v2/models/m/infer", big);
      assertThat(oip.statusCode()).isEqualTo(413);
      assertThat(E2eServer.JSON.readTree(oip.body()).get("error").isTextual()).isTrue();

      // 413 answered to Expect: 100-continue before the body is sent (written by Netty's
      // aggregator, not the dispatcher).
      byte[] bigBytes = big.getBytes(UTF8);
      String[] expect =
          raw(
              server,
              ("POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      + "Expect: 100-continue\r\nContent-Length: "
                      + bigBytes.length
                      + "\r\n\r\n")
                  .getBytes(UTF8));
      openAiError(413, expect[0], expect[1].getBytes(StandardCharsets.ISO_8859_1));

      // 415: a content coding the server does not undo; Accept-Encoding names those it does.
      HttpResponse<byte[]> coding =
          server.send(
              server
                  .jsonRequest("/v1/embeddings", "{\"model\":\"m\",\"input\":\"x\"}")
                  .header("Content-Encoding", "br"));
      assertThat(openAiError(coding, 415).get("message").asText()).contains("'br'");
      assertThat(coding.headers().firstValue("Accept-Encoding")).hasValue("gzip, deflate");

      // 400: a gzip body that does not inflate.
      HttpResponse<byte[]> notGzip =
          server.send(
              server
                  .request("/v1/embeddings")
                  .header("Content-Type", "application/json")
                  .header("Content-Encoding", "gzip")
                  .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"input\":\"x\"}")));
      assertThat(openAiError(notGzip, 400).get("message").asText()).contains("cannot be decoded");

      // 400: a body that is not JSON (the handler's own error).
      assertThat(openAiError(server.post("/v1/embeddings", "{not json"), 400).get("message"))
          .asString()
          .contains("not valid JSON");

      // 431: headers over the codec's limit.
      String[] headers =
          raw(
              server,
              ("POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nX-Padding: "
                      + "p".repeat(128 * 1024)
                      + "\r\nContent-Length: 2\r\n\r\n{}")
                  .getBytes(UTF8));
      openAiError(431, headers[0], headers[1].getBytes(StandardCharsets.ISO_8859_1));
    }
  }

  @Test
  void aFullQueueOnV1EmbeddingsIsA429ThatTheSdksRetryAfterRetryAfter() throws Exception {
    Path minilm = DEMO.resolve("all_minilm_l6_v2");
    assumeThat(E2eServer.MINILM_FILE).as("the MiniLM file (placed by the build)").isRegularFile();
    copy(minilm, repo.resolve("all_minilm_l6_v2"));
    copy(DEMO.resolve("minilm_text"), repo.resolve("minilm_text"));
    Path config = repo.resolve("minilm_text").resolve("config.yaml");
    Files.writeString(
        config,
        Files.readString(config)
                .replace("instance-count: 2", "instance-count: 1")
                .replace("monitoring:\n  enabled: true", "monitoring:\n  enabled: false")
            + "queue-policy:\n  max-queue-size: 1\n");
    // The pipeline's passes of the MiniLM file wait for the gate: the queue fills and stays full.
    GatedRuntime runtime = new GatedRuntime(new OnnxRuntimeBackend(), "all_minilm_l6_v2");
    runtime.ungated.set(1); // one pass runs freely: the scheduler has measured a pass
    try (E2eServer server = E2eServer.start(repo, runtime)) {
      List<CompletableFuture<HttpResponse<byte[]>>> held = new ArrayList<>();
      HttpResponse<byte[]> refused = null;
      try {
        String body = "{\"model\":\"minilm_text\",\"input\":\"hello world\"}";
        HttpResponse<byte[]> warm = server.post("/v1/embeddings", body);
        assertThat(warm.statusCode()).as(text(warm)).isEqualTo(200);
        held.add(server.sendAsync(server.jsonRequest("/v1/embeddings", body)));
        assertThat(runtime.entered.await(60, TimeUnit.SECONDS)).isTrue();
        // Each further request is held (queued) or refused; the queue is bounded, so one is
        // refused within a few (the wait only tells the two apart: not a timing assertion).
        for (int i = 0; i < 10 && refused == null; i++) {
          CompletableFuture<HttpResponse<byte[]>> f =
              server.sendAsync(server.jsonRequest("/v1/embeddings", body));
          try {
            HttpResponse<byte[]> r = f.get(3, TimeUnit.SECONDS);
            assertThat(r.statusCode()).as(text(r)).isEqualTo(429);
            refused = r;
          } catch (TimeoutException queued) {
            held.add(f);
          }
        }
        assertThat(refused).as("a /v1/embeddings request refused with 429").isNotNull();
        JsonNode error = E2eServer.JSON.readTree(refused.body()).get("error");
        assertThat(error.isObject()).as(text(refused)).isTrue();
        // The SDKs make a RateLimitError of any 429 (by status); the type and code are OpenAI's
        // own for a rate limit.
        assertThat(error.get("type").asText()).isEqualTo("rate_limit_exceeded");
        assertThat(error.get("code").asText()).isEqualTo("rate_limit_exceeded");
        assertThat(error.get("message").asText()).contains("queue is full");
        // The Python SDK waits what retry-after-ms, else Retry-After says (0 < s <= 60, 120 in
        // later releases), before it retries a 429; without either it backs off 0.5 s, doubling.
        // Both carry the scheduler's hint (10 ms .. 10 s), Retry-After rounded up to seconds.
        long ms = Long.parseLong(refused.headers().firstValue("retry-after-ms").orElseThrow());
        assertThat(ms).isBetween(100L, 10_000L);
        assertThat(refused.headers().firstValue("Retry-After"))
            .hasValue(Long.toString((ms + 999) / 1000));
        assertThat(refused.headers().firstValue("Content-Type")).hasValue("application/json");
      } finally {
        runtime.open.countDown();
      }
      for (CompletableFuture<HttpResponse<byte[]>> f : held) {
        HttpResponse<byte[]> r = f.get(60, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      }
    }
  }

  private static void copy(Path from, Path to) throws Exception {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target);
        }
      }
    }
  }
}
