package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.fulcrum.server.e2e.OtlpSpans.Span;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.ModelStreamInferResponse;
import dev.fulcrum.server.grpc.proto.TraceSettingRequest;
import dev.fulcrum.server.grpc.proto.TraceSettingResponse;
import dev.fulcrum.server.grpc.tfserving.DataType;
import dev.fulcrum.server.grpc.tfserving.ModelSpec;
import dev.fulcrum.server.grpc.tfserving.PredictRequest;
import dev.fulcrum.server.grpc.tfserving.PredictResponse;
import dev.fulcrum.server.grpc.tfserving.PredictionServiceGrpc;
import dev.fulcrum.server.grpc.tfserving.TensorProto;
import dev.fulcrum.server.grpc.tfserving.TensorShapeProto;
import dev.fulcrum.server.tracing.TraceSettings;
import dev.fulcrum.server.tracing.Tracing;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Tracing over real sockets: the demo fraud classifier served with spans exported over OTLP/HTTP to
 * a collector in this test (the JDK's HTTP server, decoding the protobuf body). A sampled {@code
 * traceparent} over REST JSON, REST binary and gRPC metadata yields a SERVER span in that trace,
 * child of the caller's span, with queue and compute children (one such span for each request of a
 * ModelStreamInfer call); an answer keeps no timing it did not ask for; an error is on its span; a
 * request without a parent is traced only once Triton's {@code trace_rate} is set through {@code
 * /v2/trace/setting}, whose 400s name the setting.
 */
class TracingE2eTest {
  private static final Path DEMO = E2eServer.DEMO_MODELS;
  private static final String ONE_ROW =
      "\"inputs\":[{\"name\":\"features\",\"shape\":[1,8],\"datatype\":\"FP32\","
          + "\"data\":[2500.0,3,0.9,800.0,14,20,1,0]}]";
  private static final String PARENT = "00f067aa0ba902b7";

  private static final List<Span> received = new CopyOnWriteArrayList<>();
  private static HttpServer collector;
  private static Tracing tracing;
  private static E2eServer server;
  private static E2eServer.GrpcPort grpc;

  @BeforeAll
  static void start() throws Exception {
    assumeThat(DEMO.resolve("fraud_classifier")).as("the demo repository").isDirectory();
    collector = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    collector.createContext(
        "/v1/traces",
        exchange -> {
          try (exchange) {
            received.addAll(OtlpSpans.parse(exchange.getRequestBody().readAllBytes()));
            // An empty ExportTraceServiceResponse: no bytes.
            exchange.getResponseHeaders().set("Content-Type", "application/x-protobuf");
            exchange.sendResponseHeaders(200, -1);
          }
        });
    collector.start();
    tracing =
        Tracing.otlp(
            URI.create("http://127.0.0.1:" + collector.getAddress().getPort()),
            new TraceSettings(true, 0, -1),
            "test");
    server = E2eServer.serving(DEMO).tracing(tracing).start();
    grpc = server.startGrpc();
  }

  @AfterAll
  static void stop() throws Exception {
    if (grpc != null) {
      grpc.close();
    }
    if (server != null) {
      server.close();
    }
    if (tracing != null) {
      tracing.close();
    }
    if (collector != null) {
      collector.stop(0);
    }
  }

  private static String newTraceId() {
    byte[] id = new byte[16];
    new java.security.SecureRandom().nextBytes(id);
    return java.util.HexFormat.of().formatHex(id);
  }

  /** The spans of a trace, once {@code count} have arrived (the exporter batches every 0.5 s). */
  private static List<Span> trace(String traceId, int count) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      List<Span> spans = received.stream().filter(s -> s.traceId().equals(traceId)).toList();
      if (spans.size() >= count || System.nanoTime() > deadline) {
        assertThat(spans).as("spans of trace %s", traceId).hasSize(count);
        return spans;
      }
      Thread.sleep(50);
    }
  }

  private static Span named(List<Span> spans, String name) {
    return spans.stream()
        .filter(s -> s.name().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError(name + " in " + names(spans)));
  }

  private static String names(List<Span> spans) {
    return spans.stream().map(Span::name).collect(Collectors.joining(", "));
  }

  private static String attribute(Span s, String key) {
    return s.attribute(key);
  }

  /** The server span of a one-request trace with queue and compute in it, in order. */
  private static Span serverSpanWithChildren(String traceId, String name) throws Exception {
    List<Span> spans = trace(traceId, 3);
    Span serverSpan = named(spans, name);
    assertThat(serverSpan.kind()).isEqualTo(Span.KIND_SERVER);
    assertThat(serverSpan.parentSpanId()).isEqualTo(PARENT);
    Span queue = named(spans, "queue");
    Span compute = named(spans, "compute");
    for (Span child : List.of(queue, compute)) {
      assertThat(child.parentSpanId()).isEqualTo(serverSpan.spanId());
      assertThat(child.startNanos()).isGreaterThanOrEqualTo(serverSpan.startNanos());
      assertThat(child.endNanos()).isLessThanOrEqualTo(serverSpan.endNanos());
      assertThat(child.endNanos()).isGreaterThanOrEqualTo(child.startNanos());
    }
    assertThat(queue.endNanos()).isLessThanOrEqualTo(compute.startNanos());
    assertThat(attribute(compute, "fulcrum.batch_rows")).isNotEqualTo("0");
    assertThat(attribute(serverSpan, "fulcrum.model.name")).isEqualTo("fraud_classifier");
    assertThat(serverSpan.serviceName()).isEqualTo("fulcrum");
    return serverSpan;
  }

  @Test
  void tfServingPredictIsTracedAsAnInferRequestOnItsRoute() throws Exception {
    String traceId = newTraceId();
    HttpResponse<byte[]> r =
        server.send(
            server
                .jsonRequest(
                    "/v1/models/fraud_classifier/versions/1:predict",
                    "{\"instances\": [[120.5, 14, 0.2, 3.1, 2, 400, 0, 1]]}")
                .header("traceparent", "00-" + traceId + "-" + PARENT + "-01"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(r.headers().firstValue("Server-Timing")).isEmpty();
    Span s = serverSpanWithChildren(traceId, "POST /v1/models/{model}/versions/{version}:predict");
    assertThat(attribute(s, "http.response.status_code")).isEqualTo("200");
    assertThat(attribute(s, "fulcrum.protocol")).isEqualTo("http/tfserving");
  }

  @Test
  void invocationsAreTracedAsAnInferRequestOnTheirRoute() throws Exception {
    String traceId = newTraceId();
    HttpResponse<byte[]> r =
        server.send(
            server
                .jsonRequest(
                    "/invocations",
                    "{\"dataframe_split\": {\"columns\": [\"a\", \"b\", \"c\", \"d\", \"e\","
                        + " \"f\", \"g\", \"h\"], \"data\": [[120.5, 14, 0.2, 3.1, 2, 400, 0,"
                        + " 1]]}}")
                .header("X-Amzn-SageMaker-Target-Model", "fraud_classifier.tar.gz")
                .header("traceparent", "00-" + traceId + "-" + PARENT + "-01"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    Span s = serverSpanWithChildren(traceId, "POST /invocations");
    assertThat(attribute(s, "http.response.status_code")).isEqualTo("200");
    assertThat(attribute(s, "fulcrum.protocol")).isEqualTo("http/mlflow");
  }

  @Test
  void restJsonWithASampledParentIsTracedAndAnsweredWithoutTiming() throws Exception {
    String traceId = newTraceId();
    HttpResponse<byte[]> r =
        server.send(
            server
                .jsonRequest(inferPath("fraud_classifier"), "{" + ONE_ROW + "}")
                .header("traceparent", "00-" + traceId + "-" + PARENT + "-01")
                .header("tracestate", "vendor=abc"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(E2eServer.header(r).has("parameters")).as(text(r)).isFalse();
    assertThat(r.headers().firstValue("Server-Timing")).isEmpty();
    Span s = serverSpanWithChildren(traceId, "POST /v2/models/{model}/infer");
    assertThat(s.traceState()).isEqualTo("vendor=abc");
    assertThat(attribute(s, "http.response.status_code")).isEqualTo("200");
    assertThat(attribute(s, "fulcrum.protocol")).isEqualTo("http/json");
    assertThat(attribute(s, "fulcrum.model.version")).isEqualTo("1");
  }

  @Test
  void restBinaryThatAskedTimingKeepsItAndIsTraced() throws Exception {
    ByteBuffer features = ByteBuffer.allocate(8 * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : new float[] {2500, 3, 0.9f, 800, 14, 20, 1, 0}) {
      features.putFloat(f);
    }
    String json =
        "{\"parameters\":{\"timing\":true,\"binary_data_output\":true},"
            + "\"inputs\":[{\"name\":\"features\",\"shape\":[1,8],\"datatype\":\"FP32\","
            + "\"parameters\":{\"binary_data_size\":32}}]}";
    String traceId = newTraceId();
    HttpResponse<byte[]> r =
        server.send(
            server
                .binaryRequest(inferPath("fraud_classifier"), json, features.array())
                .header("traceparent", "00-" + traceId + "-" + PARENT + "-01"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(E2eServer.header(r).get("parameters").has("total_us")).isTrue();
    Span s = serverSpanWithChildren(traceId, "POST /v2/models/{model}/infer");
    assertThat(attribute(s, "fulcrum.protocol")).isEqualTo("http/binary");
  }

  /**
   * {@code POST /v1/embeddings} through the same door: a SERVER span in the caller's trace with a
   * queue and a compute child for each core request (a list longer than minilm_text's
   * max-batch-size of 16 runs as two).
   */
  @Test
  void openAiEmbeddingsWithASampledParentAreTracedAsAnInferRequest() throws Exception {
    assumeThat(E2eServer.MINILM_FILE).as("the MiniLM file (placed by the build)").isRegularFile();
    String traceId = newTraceId();
    HttpResponse<byte[]> r =
        server.send(
            server
                .jsonRequest(
                    "/v1/embeddings", "{\"model\":\"minilm_text\",\"input\":\"hello world\"}")
                .header("traceparent", "00-" + traceId + "-" + PARENT + "-01"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    List<Span> spans = trace(traceId, 3);
    Span s = named(spans, "POST /v1/embeddings");
    assertThat(s.kind()).isEqualTo(Span.KIND_SERVER);
    assertThat(s.parentSpanId()).isEqualTo(PARENT);
    assertThat(attribute(s, "http.route")).isEqualTo("/v1/embeddings");
    assertThat(attribute(s, "http.response.status_code")).isEqualTo("200");
    assertThat(attribute(s, "fulcrum.protocol")).isEqualTo("http/openai");
    assertThat(attribute(s, "fulcrum.model.name")).isEqualTo("minilm_text");
    assertThat(attribute(s, "fulcrum.request_rows")).isEqualTo("1");
    for (String child : List.of("queue", "compute")) {
      Span c = named(spans, child);
      assertThat(c.parentSpanId()).isEqualTo(s.spanId());
      assertThat(c.startNanos()).isGreaterThanOrEqualTo(s.startNanos());
      assertThat(c.endNanos()).isLessThanOrEqualTo(s.endNanos());
    }

    String longer = newTraceId();
    StringBuilder input = new StringBuilder("[");
    for (int i = 0; i < 17; i++) {
      input.append(i == 0 ? "" : ",").append("\"sentence ").append(i).append('"');
    }
    HttpResponse<byte[]> two =
        server.send(
            server
                .jsonRequest(
                    "/v1/embeddings", "{\"model\":\"minilm_text\",\"input\":" + input + "]}")
                .header("traceparent", "00-" + longer + "-" + PARENT + "-01"));
    assertThat(two.statusCode()).as(text(two)).isEqualTo(200);
    List<Span> parts = trace(longer, 5);
    Span server2 = named(parts, "POST /v1/embeddings");
    assertThat(attribute(server2, "fulcrum.request_rows")).isEqualTo("17");
    assertThat(parts.stream().filter(p -> p.name().equals("compute")))
        .hasSize(2)
        .allMatch(p -> p.parentSpanId().equals(server2.spanId()));
  }

  /** A /v1/embeddings request the core refuses is traced with its error, as an infer request. */
  @Test
  void aFailedOpenAiEmbeddingsRequestIsTracedWithItsError() throws Exception {
    String traceId = newTraceId();
    HttpResponse<byte[]> r =
        server.send(
            server
                .jsonRequest("/v1/embeddings", "{\"model\":\"no_such_model\",\"input\":\"x\"}")
                .header("traceparent", "00-" + traceId + "-" + PARENT + "-01"));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(404);
    Span s = named(trace(traceId, 1), "POST /v1/embeddings");
    assertThat(attribute(s, "http.response.status_code")).isEqualTo("404");
    assertThat(attribute(s, "error.type")).isEqualTo("NOT_FOUND");
  }

  @Test
  void grpcWithTraceparentMetadataIsTraced() throws Exception {
    String traceId = newTraceId();
    Metadata md = new Metadata();
    md.put(
        Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER),
        "00-" + traceId + "-" + PARENT + "-01");
    ModelInferResponse r =
        GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .modelInfer(grpcRequest("fraud_classifier", ""));
    assertThat(r.getParametersMap()).doesNotContainKey("total_us");
    Span s = serverSpanWithChildren(traceId, "inference.GRPCInferenceService/ModelInfer");
    assertThat(attribute(s, "rpc.grpc.status_code")).isEqualTo("0");
    assertThat(attribute(s, "fulcrum.protocol")).isEqualTo("grpc");
  }

  @Test
  void tfServingGrpcPredictIsTracedAsGrpcTfServing() throws Exception {
    String traceId = newTraceId();
    Metadata md = new Metadata();
    md.put(
        Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER),
        "00-" + traceId + "-" + PARENT + "-01");
    TensorProto.Builder features =
        TensorProto.newBuilder()
            .setDtype(DataType.DT_FLOAT)
            .setTensorShape(
                TensorShapeProto.newBuilder()
                    .addDim(TensorShapeProto.Dim.newBuilder().setSize(1))
                    .addDim(TensorShapeProto.Dim.newBuilder().setSize(8)));
    for (float f : new float[] {2500, 3, 0.9f, 800, 14, 20, 1, 0}) {
      features.addFloatVal(f);
    }
    PredictResponse r =
        PredictionServiceGrpc.newBlockingStub(grpc.channel)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .predict(
                PredictRequest.newBuilder()
                    .setModelSpec(ModelSpec.newBuilder().setName("fraud_classifier"))
                    .putInputs("features", features.build())
                    .build());
    assertThat(r.getOutputsMap()).containsKeys("probabilities", "label");
    Span s = serverSpanWithChildren(traceId, "tensorflow.serving.PredictionService/Predict");
    assertThat(attribute(s, "rpc.grpc.status_code")).isEqualTo("0");
    assertThat(attribute(s, "fulcrum.protocol")).isEqualTo("grpc/tfserving");
  }

  private static ModelInferRequest grpcRequest(String model, String id) {
    InferTensorContents.Builder contents = InferTensorContents.newBuilder();
    for (float f : new float[] {2500, 3, 0.9f, 800, 14, 20, 1, 0}) {
      contents.addFp32Contents(f);
    }
    return ModelInferRequest.newBuilder()
        .setModelName(model)
        .setId(id)
        .addInputs(
            ModelInferRequest.InferInputTensor.newBuilder()
                .setName("features")
                .setDatatype("FP32")
                .addShape(1)
                .addShape(8)
                .setContents(contents))
        .build();
  }

  @Test
  void eachRequestOfAGrpcStreamIsASpanOfTheCallsTrace() throws Exception {
    String traceId = newTraceId();
    Metadata md = new Metadata();
    md.put(
        Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER),
        "00-" + traceId + "-" + PARENT + "-01");
    List<ModelStreamInferResponse> answers = new CopyOnWriteArrayList<>();
    CompletableFuture<io.grpc.Status> ended = new CompletableFuture<>();
    StreamObserver<ModelInferRequest> requests =
        GRPCInferenceServiceGrpc.newStub(grpc.channel)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .modelStreamInfer(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ModelStreamInferResponse value) {
                    answers.add(value);
                  }

                  @Override
                  public void onError(Throwable t) {
                    ended.complete(io.grpc.Status.fromThrowable(t));
                  }

                  @Override
                  public void onCompleted() {
                    ended.complete(io.grpc.Status.OK);
                  }
                });
    requests.onNext(grpcRequest("fraud_classifier", "s-1"));
    requests.onNext(grpcRequest("fraud_classifier", "s-2"));
    requests.onNext(grpcRequest("no_such_model", "s-3"));
    requests.onCompleted();
    assertThat(ended.get(30, TimeUnit.SECONDS).isOk()).isTrue();
    assertThat(answers).hasSize(3);
    for (ModelStreamInferResponse a : answers) {
      // Timed for the spans, not shown: no request asked.
      assertThat(a.getInferResponse().getParametersMap()).doesNotContainKey("total_us");
    }
    // Two answered requests (server, queue, compute each) and the refused one (its span alone).
    List<Span> spans = trace(traceId, 7);
    List<Span> servers = spans.stream().filter(s -> s.kind() == Span.KIND_SERVER).toList();
    assertThat(servers).hasSize(3);
    for (Span s : servers) {
      assertThat(s.name()).isEqualTo("inference.GRPCInferenceService/ModelStreamInfer");
      assertThat(s.parentSpanId()).isEqualTo(PARENT);
      assertThat(attribute(s, "rpc.method")).isEqualTo("ModelStreamInfer");
    }
    assertThat(servers.stream().map(s -> attribute(s, "rpc.grpc.status_code")))
        .containsExactlyInAnyOrder("0", "0", "5");
    Span refused =
        servers.stream()
            .filter(s -> "5".equals(attribute(s, "rpc.grpc.status_code")))
            .findFirst()
            .orElseThrow();
    assertThat(attribute(refused, "error.type")).isEqualTo("NOT_FOUND");
    assertThat(attribute(refused, "fulcrum.model.name")).isEqualTo("no_such_model");
    for (Span child : spans.stream().filter(s -> s.kind() != Span.KIND_SERVER).toList()) {
      assertThat(servers.stream().map(Span::spanId)).contains(child.parentSpanId());
    }
  }

  private static TraceSettingRequest.SettingValue values(String... v) {
    return TraceSettingRequest.SettingValue.newBuilder().addAllValue(List.of(v)).build();
  }

  private static List<String> setting(TraceSettingResponse r, String name) {
    return r.getSettingsMap().get(name).getValueList();
  }

  @Test
  void grpcTraceSettingIsRestsSettingsWithRestsValidation() throws Exception {
    GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub =
        GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
            .withDeadlineAfter(30, TimeUnit.SECONDS);
    TraceSettingResponse global = stub.traceSetting(TraceSettingRequest.getDefaultInstance());
    assertThat(setting(global, "trace_level")).containsExactly("TIMESTAMPS");
    assertThat(setting(global, "trace_rate")).containsExactly("0");
    assertThat(global.getSettingsMap().keySet())
        .containsExactlyInAnyOrder(
            "trace_level",
            "trace_rate",
            "trace_count",
            "log_frequency",
            "trace_file",
            "trace_mode");

    // What REST answers 400 is INVALID_ARGUMENT in the same words.
    io.grpc.StatusRuntimeException bad =
        org.assertj.core.api.Assertions.catchThrowableOfType(
            io.grpc.StatusRuntimeException.class,
            () ->
                stub.traceSetting(
                    TraceSettingRequest.newBuilder()
                        .putSettings("trace_rate", values("often"))
                        .build()));
    assertThat(bad.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT);
    assertThat(bad.getStatus().getDescription()).contains("trace_rate must be an integer");
    io.grpc.StatusRuntimeException two =
        org.assertj.core.api.Assertions.catchThrowableOfType(
            io.grpc.StatusRuntimeException.class,
            () ->
                stub.traceSetting(
                    TraceSettingRequest.newBuilder()
                        .putSettings("trace_count", values("1", "2"))
                        .build()));
    assertThat(two.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT);
    assertThat(two.getStatus().getDescription()).contains("trace_count takes one value");

    // A model's change over gRPC is what REST reads; no value returns it to the server's.
    String model = "all_minilm_l6_v2";
    TraceSettingResponse changed =
        stub.traceSetting(
            TraceSettingRequest.newBuilder()
                .setModelName(model)
                .putSettings("trace_count", values("7"))
                .putSettings("trace_level", values("TIMESTAMPS"))
                .build());
    assertThat(setting(changed, "trace_count")).containsExactly("7");
    JsonNode rest =
        E2eServer.JSON.readTree(server.get("/v2/models/" + model + "/trace/setting").body());
    assertThat(rest.get("trace_count").asText()).isEqualTo("7");
    TraceSettingResponse read =
        stub.traceSetting(TraceSettingRequest.newBuilder().setModelName(model).build());
    assertThat(setting(read, "trace_count")).containsExactly("7");
    TraceSettingResponse reset =
        stub.traceSetting(
            TraceSettingRequest.newBuilder()
                .setModelName(model)
                .putSettings("trace_count", values())
                .build());
    assertThat(setting(reset, "trace_count")).containsExactly("-1");
  }

  @Test
  void anErrorIsOnItsSpan() throws Exception {
    String traceId = newTraceId();
    HttpResponse<byte[]> r =
        server.send(
            server
                .jsonRequest(inferPath("no_such_model"), "{" + ONE_ROW + "}")
                .header("traceparent", "00-" + traceId + "-" + PARENT + "-01"));
    assertThat(r.statusCode()).isEqualTo(404);
    Span s = trace(traceId, 1).get(0);
    assertThat(attribute(s, "http.response.status_code")).isEqualTo("404");
    assertThat(attribute(s, "error.type")).isEqualTo("NOT_FOUND");
    assertThat(attribute(s, "fulcrum.model.name")).isEqualTo("no_such_model");
  }

  @Test
  void traceSettingsAreTritonsAndTheRateTracesRequestsWithoutAParent() throws Exception {
    HttpResponse<byte[]> got = server.get("/v2/trace/setting");
    assertThat(got.statusCode()).as(text(got)).isEqualTo(200);
    JsonNode settings = E2eServer.JSON.readTree(got.body());
    assertThat(settings.get("trace_level").get(0).asText()).isEqualTo("TIMESTAMPS");
    assertThat(settings.get("trace_rate").asText()).isEqualTo("0");
    assertThat(settings.get("trace_mode").asText()).isEqualTo("opentelemetry");

    HttpResponse<byte[]> bad = server.post("/v2/trace/setting", "{\"trace_rate\":\"often\"}");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(error(bad)).contains("trace_rate must be an integer");
    HttpResponse<byte[]> put =
        server.send(
            server
                .request("/v2/trace/setting")
                .PUT(java.net.http.HttpRequest.BodyPublishers.noBody()));
    assertThat(put.statusCode()).isEqualTo(405);
    assertThat(put.headers().firstValue("Allow")).hasValue("GET, POST");

    // Only this model is traced at rate 1; the server's setting stays 0.
    HttpResponse<byte[]> model =
        server.post("/v2/models/fraud_classifier/trace/setting", "{\"trace_rate\":\"1\"}");
    assertThat(model.statusCode()).as(text(model)).isEqualTo(200);
    assertThat(E2eServer.JSON.readTree(model.body()).get("trace_rate").asText()).isEqualTo("1");
    assertThat(
            E2eServer.JSON
                .readTree(server.get("/v2/trace/setting").body())
                .get("trace_rate")
                .asText())
        .isEqualTo("0");
    HttpResponse<byte[]> r = server.post(inferPath("fraud_classifier"), "{" + ONE_ROW + "}");
    assertThat(r.statusCode()).isEqualTo(200);
    server.post("/v2/models/fraud_classifier/trace/setting", "{}"); // back to the server's
    // Every other test's request has a parent: the one root span is this request's.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    List<Span> roots = List.of();
    while (roots.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(50);
      roots =
          received.stream()
              .filter(s -> s.kind() == Span.KIND_SERVER && s.parentSpanId().isEmpty())
              .toList();
    }
    assertThat(roots).hasSize(1);
    assertThat(trace(roots.get(0).traceId(), 3)).hasSize(3);
    assertThat(
            E2eServer.JSON
                .readTree(server.get("/v2/models/fraud_classifier/trace/setting").body())
                .get("trace_rate")
                .asText())
        .isEqualTo("0");
  }
}
