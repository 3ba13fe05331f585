package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.ModelStreamInferResponse;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The slow-request log on a real server (REST and gRPC ports on one {@link InferenceService}, fake
 * models that sleep in their passes): a slow request over REST JSON, REST binary, gRPC and a gRPC
 * stream each gets its line with its fields, a quick one none, a model's objective is its
 * threshold, and a request refused for a full queue gets its line however quick. The lines are
 * captured from the log's sink (its writer thread runs as in {@code fulcrum serve}). Thresholds are
 * far from the models' delays both ways, so that a busy machine does not change which requests are
 * slow: no timing assertions.
 */
class SlowRequestLogServeTest {
  private static final long MS = 1_000_000L;
  private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
  private static final String TRACEPARENT = "00-" + TRACE_ID + "-00f067aa0ba902b7-01";
  private static final String FORWARDED_FOR = "203.0.113.7";
  private static final String IDENTITY =
      "{\"mode\":\"identity\",\"delay_ms\":%d,"
          + "\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}],"
          + "\"outputs\":[{\"name\":\"OUT\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}]}";
  private static final Pattern PAIR = Pattern.compile("([\\w.]+)=(\"(?:[^\"\\\\]|\\\\.)*\"|\\S+)");
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path repo;
  private static final List<String> lines = new CopyOnWriteArrayList<>();
  private static ModelRepository repository;
  private static SlowRequestLog log;
  private static HttpServer http;
  private static GrpcServer grpc;
  private static ManagedChannel channel;
  private static final HttpClient client =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void start() throws Exception {
    model("slow", "", 300);
    model("quick", "slo:\n  latency-ms: 20000\n", 0);
    model("slo_slow", "slo:\n  latency-ms: 20\n", 150);
    // Its own threshold, under its objective: judged by slow-request-ms, not the objective.
    model("own_threshold", "slow-request-ms: 30\nslo:\n  latency-ms: 20000\n", 150);
    model(
        "narrow",
        "max-batch-size: 1\ninstance-count: 1\nqueue-policy:\n  max-queue-size: 1\n",
        400);
    // An ensemble whose first step is the slow model: its line has each step's split.
    Files.createDirectories(repo.resolve("slow_chain/1"));
    Files.writeString(
        repo.resolve("slow_chain/config.yaml"),
        """
        platform: ensemble
        max-batch-size: 8
        inputs: [{name: IN, datatype: FP32, dims: [-1]}]
        outputs: [{name: OUT, datatype: FP32, dims: [-1]}]
        ensemble:
          steps:
            - {model: slow, input-map: {IN: IN}, output-map: {OUT: mid}}
            - {model: quick, input-map: {IN: mid}, output-map: {OUT: OUT}}
        """);
    repository =
        new ModelRepository(
            List.of(repo), List.of(new FakeRuntime()), new ModelConfigResolver(2, 8));
    repository.loadAll();
    InferenceService service = new InferenceService(repository, false);
    log =
        new SlowRequestLog(
            new SlowRequestLog.Settings(100 * MS, SlowRequestLog.Format.LOGFMT, 100),
            lines::add,
            System::nanoTime,
            java.time.Clock.systemUTC(),
            true);
    http = new HttpServer(service, HttpServerConfig.ephemeral()).slowRequests(log).start();
    grpc = new GrpcServer(service, GrpcServerConfig.ephemeral()).slowRequests(log).start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", grpc.port()).usePlaintext().build();
  }

  private static void model(String name, String config, long delayMs) throws Exception {
    Path dir = repo.resolve(name);
    Files.createDirectories(dir.resolve("1"));
    if (!config.isEmpty()) {
      Files.writeString(dir.resolve("config.yaml"), config);
    }
    Files.writeString(dir.resolve("1").resolve("model.onnx"), IDENTITY.formatted(delayMs));
  }

  @AfterAll
  static void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (grpc != null) {
      grpc.close();
    }
    if (http != null) {
      http.close();
    }
    if (log != null) {
      log.close();
    }
    if (repository != null) {
      repository.close();
    }
  }

  // ---- requests -------------------------------------------------------------------------------

  private static String body(String id, String parameters) {
    return "{\"id\":\""
        + id
        + "\","
        + parameters
        + "\"inputs\":[{\"name\":\"IN\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2]}]}";
  }

  private static HttpRequest.Builder rest(String model) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + infer(model)))
        .timeout(Duration.ofSeconds(60))
        .header("traceparent", TRACEPARENT)
        .header("X-Forwarded-For", FORWARDED_FOR);
  }

  private static String infer(String model) {
    return "/v2/models/" + model + "/infer";
  }

  private static HttpResponse<String> postJson(String model, String json) throws Exception {
    return client.send(
        rest(model)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static ModelInferRequest grpcRequest(String model, String id) {
    return ModelInferRequest.newBuilder()
        .setModelName(model)
        .setId(id)
        .addInputs(
            ModelInferRequest.InferInputTensor.newBuilder()
                .setName("IN")
                .setDatatype("FP32")
                .addShape(1)
                .addShape(2)
                .setContents(
                    InferTensorContents.newBuilder().addFp32Contents(1).addFp32Contents(2)))
        .build();
  }

  private static Metadata traced() {
    Metadata m = new Metadata();
    m.put(Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER), TRACEPARENT);
    m.put(Metadata.Key.of("x-forwarded-for", Metadata.ASCII_STRING_MARSHALLER), FORWARDED_FOR);
    return m;
  }

  // ---- lines ----------------------------------------------------------------------------------

  /** A logfmt line's pairs, quotes taken off. */
  private static Map<String, String> fields(String line) {
    Map<String, String> out = new HashMap<>();
    Matcher m = PAIR.matcher(line);
    while (m.find()) {
      String v = m.group(2);
      out.put(m.group(1), v.startsWith("\"") ? v.substring(1, v.length() - 1) : v);
    }
    return out;
  }

  private static @Nullable Map<String, String> lineOf(String id) {
    for (String line : lines) {
      Map<String, String> f = fields(line);
      if (id.equals(f.get("id"))) {
        return f;
      }
    }
    return null;
  }

  private static Map<String, String> awaitLine(String id) throws Exception {
    Await.until("the slow-request line of " + id, () -> lineOf(id) != null, lines::toString);
    Map<String, String> f = lineOf(id);
    assertThat(f).isNotNull();
    return f;
  }

  private static void assertSlow(Map<String, String> f, String protocol, String status) {
    assertThat(f)
        .containsEntry("event", "slow_request")
        .containsEntry("reason", "slow")
        .containsEntry("model", "slow")
        .containsEntry("version", "default")
        .containsEntry("protocol", protocol)
        .containsEntry("status", status)
        .containsEntry("rows", "1")
        .containsEntry("batch_rows", "1")
        .containsEntry("cache_hit", "false")
        .containsEntry("threshold_ms", "100.000")
        .containsEntry("trace_id", TRACE_ID)
        .containsKeys("queue_ms", "compute_ms", "transport_ms");
    assertThat(f.get("client")).startsWith("127.0.0.1:");
    double total = Double.parseDouble(f.get("total_ms"));
    double compute = Double.parseDouble(f.get("compute_ms"));
    assertThat(total).isGreaterThan(100); // slow: over its threshold
    assertThat(compute).isGreaterThanOrEqualTo(300); // the model slept that long in its pass
    assertThat(total).isGreaterThanOrEqualTo(compute);
  }

  // ---- tests ----------------------------------------------------------------------------------

  @Test
  void aSlowRestJsonRequestGetsItsLineAndItsAnswerNoTiming() throws Exception {
    HttpResponse<String> quick = postJson("quick", body("quick-1", ""));
    assertThat(quick.statusCode()).as(quick.body()).isEqualTo(200);
    HttpResponse<String> r = postJson("slow", body("rest-json-1", ""));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode answer = JSON.readTree(r.body());
    assertThat(answer.has("parameters")).as("timed for the log, not shown: %s", r.body()).isFalse();
    assertThat(r.headers().firstValue("Server-Timing")).isEmpty();
    Map<String, String> line = awaitLine("rest-json-1");
    assertSlow(line, "rest-json", "200");
    // Behind a proxy the connection is the proxy's; the line says whom it forwarded for too.
    assertThat(line).containsEntry("forwarded_for", FORWARDED_FOR);
    // The quick one was answered first, so its line, had it one, would be there by now.
    assertThat(lineOf("quick-1")).as("a quick request has no line: %s", lines).isNull();
  }

  /**
   * {@code POST /v1/embeddings} gets the line an infer request gets, with its queue/compute split:
   * a server of its own over the demo's text pipeline (the real MiniLM file: no fake model
   * tokenizes), every request logged (threshold 0), so nothing depends on how long it took.
   */
  @Test
  void anOpenAiEmbeddingsRequestGetsTheLineOfAnInferRequest(@TempDir Path textRepo)
      throws Exception {
    Path demo = Path.of("..", "demo", "models").toAbsolutePath().normalize();
    org.assertj.core.api.Assumptions.assumeThat(
            demo.resolve("all_minilm_l6_v2").resolve("1").resolve("all-minilm-l6-v2-q.onnx"))
        .as("the MiniLM file (placed by the build)")
        .isRegularFile();
    for (String model : List.of("all_minilm_l6_v2", "minilm_text")) {
      try (var files = Files.walk(demo.resolve(model))) {
        for (Path f : (Iterable<Path>) files::iterator) {
          Path to = textRepo.resolve(model).resolve(demo.resolve(model).relativize(f).toString());
          if (Files.isDirectory(f)) {
            Files.createDirectories(to);
          } else {
            Files.copy(f, to);
          }
        }
      }
    }
    List<String> textLines = new CopyOnWriteArrayList<>();
    ModelRepository models =
        new ModelRepository(
            List.of(textRepo),
            List.of(
                new dev.fulcrum.runtime.onnx.OnnxRuntimeBackend(),
                new dev.fulcrum.pipelines.TextPipelines()),
            new ModelConfigResolver(2, 8));
    try (models;
        SlowRequestLog everything =
            new SlowRequestLog(
                new SlowRequestLog.Settings(0, SlowRequestLog.Format.LOGFMT, 100),
                textLines::add,
                System::nanoTime,
                java.time.Clock.systemUTC(),
                true);
        HttpServer server =
            new HttpServer(new InferenceService(models, false), HttpServerConfig.ephemeral())
                .slowRequests(everything)
                .start()) {
      models.loadAll();
      HttpResponse<String> r =
          client.send(
              HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + server.port() + "/v1/embeddings"))
                  .timeout(Duration.ofSeconds(60))
                  .header("traceparent", TRACEPARENT)
                  .header("Content-Type", "application/json")
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          "{\"model\":\"minilm_text\",\"input\":\"hello world\"}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      Await.until("the /v1/embeddings line", () -> !textLines.isEmpty(), textLines::toString);
      Map<String, String> f = fields(textLines.get(0));
      assertThat(f)
          .containsEntry("event", "slow_request")
          .containsEntry("model", "minilm_text")
          .containsEntry("protocol", "rest-openai")
          .containsEntry("status", "200")
          .containsEntry("rows", "1")
          .containsEntry("cache_hit", "false")
          .containsEntry("trace_id", TRACE_ID)
          .containsKeys("queue_ms", "compute_ms", "transport_ms", "batch_rows", "total_ms");
      assertThat(f.get("client")).startsWith("127.0.0.1:");
      assertThat(Double.parseDouble(f.get("total_ms")))
          .isGreaterThanOrEqualTo(Double.parseDouble(f.get("compute_ms")));
    }
  }

  @Test
  void aRequestThatAskedForItsTimingStillGetsIt() throws Exception {
    HttpResponse<String> r =
        postJson("slow", body("rest-json-timed", "\"parameters\":{\"timing\":true},"));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(JSON.readTree(r.body()).path("parameters").has("compute_us")).isTrue();
    assertThat(r.headers().firstValue("Server-Timing")).isPresent();
    assertSlow(awaitLine("rest-json-timed"), "rest-json", "200");
  }

  @Test
  void aSlowRestBinaryRequestGetsItsLine() throws Exception {
    String json =
        "{\"id\":\"rest-binary-1\",\"inputs\":[{\"name\":\"IN\",\"shape\":[1,2],"
            + "\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":8}}]}";
    ByteBuffer data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1).putFloat(2);
    byte[] head = json.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    byte[] all = new byte[head.length + 8];
    System.arraycopy(head, 0, all, 0, head.length);
    System.arraycopy(data.array(), 0, all, head.length, 8);
    HttpResponse<String> r =
        client.send(
            rest("slow")
                .header("Content-Type", "application/octet-stream")
                .header("Inference-Header-Content-Length", Integer.toString(head.length))
                .POST(HttpRequest.BodyPublishers.ofByteArray(all))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertSlow(awaitLine("rest-binary-1"), "rest-binary", "200");
  }

  @Test
  void aSlowEnsembleRequestsLineHasEachStepsSplitOverRestAndGrpc() throws Exception {
    HttpResponse<String> r = postJson("slow_chain", body("ensemble-rest-1", ""));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    GRPCInferenceServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(60, TimeUnit.SECONDS)
        .modelInfer(grpcRequest("slow_chain", "ensemble-grpc-1"));
    for (String id : List.of("ensemble-rest-1", "ensemble-grpc-1")) {
      Map<String, String> f = awaitLine(id);
      assertThat(f)
          .as(id)
          .containsEntry("model", "slow_chain")
          .containsEntry("batch_rows", "0")
          .containsEntry("step.0.model", "slow")
          .containsEntry("step.0.version", "1")
          .containsEntry("step.0.batch_rows", "1")
          .containsEntry("step.1.model", "quick")
          .containsEntry("step.1.version", "1")
          .containsKeys(
              "step.0.start_ms",
              "step.0.queue_ms",
              "step.0.total_ms",
              "step.1.start_ms",
              "step.1.queue_ms",
              "step.1.compute_ms",
              "step.1.total_ms");
      double total = Double.parseDouble(f.get("total_ms"));
      double slowStep = Double.parseDouble(f.get("step.0.compute_ms"));
      assertThat(slowStep).as(id).isGreaterThanOrEqualTo(300); // the slow model's pass
      // the steps ran one after the other, within the request's time
      assertThat(Double.parseDouble(f.get("step.1.start_ms")))
          .isGreaterThanOrEqualTo(Double.parseDouble(f.get("step.0.start_ms")));
      assertThat(slowStep + Double.parseDouble(f.get("step.1.compute_ms")))
          .as(id)
          .isLessThanOrEqualTo(total);
    }
  }

  @Test
  void aSlowGrpcRequestGetsItsLine() throws Exception {
    ModelInferResponse r =
        GRPCInferenceServiceGrpc.newBlockingStub(channel)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(traced()))
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .modelInfer(grpcRequest("slow", "grpc-1"));
    assertThat(r.getParametersMap()).as("timed for the log, not shown").isEmpty();
    Map<String, String> line = awaitLine("grpc-1");
    assertSlow(line, "grpc", "OK");
    assertThat(line).containsEntry("forwarded_for", FORWARDED_FOR);
  }

  @Test
  void aSlowRequestOnAGrpcStreamGetsItsLine() throws Exception {
    StreamCall call =
        new StreamCall(
            io.grpc.ClientInterceptors.intercept(
                channel, MetadataUtils.newAttachHeadersInterceptor(traced())),
            60);
    call.requests.onNext(grpcRequest("slow", "grpc-stream-1"));
    call.requests.onNext(grpcRequest("quick", "grpc-stream-quick"));
    call.requests.onCompleted();
    assertThat(call.ended.get(60, TimeUnit.SECONDS).isOk()).isTrue();
    List<ModelStreamInferResponse> answers = new ArrayList<>(call.answers);
    assertThat(answers).hasSize(2).allMatch(a -> a.getErrorMessage().isEmpty());
    assertSlow(awaitLine("grpc-stream-1"), "grpc-stream", "OK");
    assertThat(lineOf("grpc-stream-quick")).isNull();
  }

  @Test
  void aModelsObjectiveIsItsThreshold() throws Exception {
    HttpResponse<String> r = postJson("slo_slow", body("slo-1", ""));
    // 150 ms passes against a 20 ms objective: answered (200) or refused by the SLO policy (429);
    // either way the line is judged by the objective.
    assertThat(r.statusCode()).as(r.body()).isIn(200, 429);
    Map<String, String> f = awaitLine("slo-1");
    assertThat(f).containsEntry("model", "slo_slow").containsEntry("threshold_ms", "20.000");
  }

  @Test
  void aModelsSlowRequestMsIsItsThresholdOverItsObjective() throws Exception {
    HttpResponse<String> r = postJson("own_threshold", body("own-1", ""));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    Map<String, String> f = awaitLine("own-1");
    assertThat(f)
        .containsEntry("model", "own_threshold")
        .containsEntry("reason", "slow")
        .containsEntry("threshold_ms", "30.000");
  }

  @Test
  void requestsRefusedForAFullQueueGetTheirLinesHoweverQuick() throws Exception {
    // One pass of 400 ms at a time and one request waiting: of six at once, some are refused.
    List<CompletableFuture<HttpResponse<String>>> sent = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      sent.add(
          client.sendAsync(
              rest("narrow")
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(body("narrow-" + i, "")))
                  .build(),
              HttpResponse.BodyHandlers.ofString()));
    }
    int refused = 0;
    for (int i = 0; i < sent.size(); i++) {
      HttpResponse<String> r = sent.get(i).get(60, TimeUnit.SECONDS);
      assertThat(r.statusCode()).as(r.body()).isIn(200, 429);
      if (r.statusCode() == 429) {
        refused++;
        // Refused at admission, before its body was decoded: the line has no id; found by its
        // status and model instead, below.
      }
    }
    assertThat(refused).as("six requests for one pass and one queue slot").isPositive();
    int expected = refused;
    Await.until(
        "a line for each refused request",
        () ->
            lines.stream()
                    .map(SlowRequestLogServeTest::fields)
                    .filter(f -> "narrow".equals(f.get("model")) && "429".equals(f.get("status")))
                    .count()
                == expected,
        lines::toString);
    Map<String, String> f =
        lines.stream()
            .map(SlowRequestLogServeTest::fields)
            .filter(x -> "narrow".equals(x.get("model")) && "429".equals(x.get("status")))
            .findFirst()
            .orElseThrow();
    assertThat(f.get("reason")).isIn("refused", "slow");
    assertThat(f).containsEntry("trace_id", TRACE_ID).containsKey("error");
  }
}
