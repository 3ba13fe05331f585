package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelConfigRequest;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelRepositoryParameter;
import dev.fulcrum.server.grpc.proto.RepositoryIndexRequest;
import dev.fulcrum.server.grpc.proto.RepositoryIndexResponse;
import dev.fulcrum.server.grpc.proto.RepositoryModelLoadRequest;
import dev.fulcrum.server.grpc.proto.RepositoryModelUnloadRequest;
import dev.fulcrum.server.metrics.ServerMetrics;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Triton's model repository extension over REST and gRPC, the model control modes, warm-up gating
 * readiness, a swap under concurrent requests that fails none of them, and reload and unload cycles
 * that leave nothing behind.
 */
class RepositoryApiTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String INFER = TestModels.FP32_INFER;

  @TempDir Path repo;
  private final ServerMetrics metrics = new ServerMetrics(false);
  private TestModels.Controlled server;
  private GrpcServer grpc;
  private ManagedChannel channel;

  private void writeModel(String name, int version, String mode) throws Exception {
    TestModels.writeFp32(repo, name, version, mode);
  }

  private void start(ControlMode mode, List<String> startup) throws Exception {
    server =
        TestModels.serveControlled(
            repo,
            metrics,
            new ModelRepository.Settings(mode, 2, startup, Duration.ofMillis(200)),
            Duration.ZERO);
    grpc = new GrpcServer(server.service, GrpcServerConfig.ephemeral()).start();
    channel = GrpcServerTest.channel(grpc.port());
  }

  @AfterEach
  void stop() throws Exception {
    FakeRuntime.openGate();
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (grpc != null) {
      grpc.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private HttpResponse<String> post(String path, String body) throws Exception {
    return server.post(path, body);
  }

  private HttpResponse<String> get(String path) throws Exception {
    return server.get(path);
  }

  /** The REST index as "name/version/state" rows. */
  private List<String> index(String body) throws Exception {
    HttpResponse<String> r = post("/v2/repository/index", body);
    assertThat(r.statusCode()).isEqualTo(200);
    List<String> rows = new ArrayList<>();
    for (JsonNode n : JSON.readTree(r.body())) {
      rows.add(
          n.get("name").asText() + "/" + n.get("version").asText() + "/" + n.get("state").asText());
    }
    return rows;
  }

  private static String error(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body()).get("error").asText();
  }

  @Test
  void explicitModeLoadsAndUnloadsOverRest() throws Exception {
    writeModel("a", 1, "identity");
    writeModel("b", 1, "identity");
    writeModel("broken", 1, "fail");
    start(ControlMode.EXPLICIT, List.of("a"));

    assertThat(get("/v2/health/ready").statusCode()).isEqualTo(200);
    assertThat(get("/v2/models/b/ready").statusCode()).isEqualTo(503);
    assertThat(index("")).containsExactly("a/1/READY", "b//UNAVAILABLE", "broken//UNAVAILABLE");
    assertThat(index("{\"ready\": true}")).containsExactly("a/1/READY");
    assertThat(JSON.readTree(get("/v2").body()).get("extensions").toString())
        .contains("model_repository");

    HttpResponse<String> load = post("/v2/repository/models/b/load", "");
    assertThat(load.statusCode()).isEqualTo(200);
    assertThat(get("/v2/models/b/ready").statusCode()).isEqualTo(200);
    assertThat(post("/v2/models/b/infer", INFER).statusCode()).isEqualTo(200);
    assertThat(metrics.scrape())
        .contains("fulcrum_request_duration_seconds_count{model=\"b\",version=\"1\"} 1");

    HttpResponse<String> unload =
        post("/v2/repository/models/b/unload", "{\"parameters\":{\"unload_dependents\":false}}");
    assertThat(unload.statusCode()).isEqualTo(200);
    // An unloaded version's series are gone, so that swaps do not grow the scrape without bound.
    assertThat(metrics.scrape()).doesNotContain("model=\"b\"");
    assertThat(get("/v2/models/b/ready").statusCode()).isEqualTo(503);
    assertThat(post("/v2/models/b/versions/1/infer", INFER).statusCode()).isEqualTo(503);
    JsonNode rows = JSON.readTree(post("/v2/repository/index", "").body());
    assertThat(rows.toString())
        .contains(
            "\"name\":\"b\",\"version\":\"1\",\"state\":\"UNAVAILABLE\",\"reason\":\"unloaded\"");

    HttpResponse<String> broken = post("/v2/repository/models/broken/load", "");
    assertThat(broken.statusCode()).isEqualTo(400);
    assertThat(error(broken)).contains("failed to load 'broken'", "always fails to load");
    assertThat(error(broken)).doesNotContain(repo.toString());

    HttpResponse<String> badOverride =
        post(
            "/v2/repository/models/a/load",
            "{\"parameters\":{\"config\":\"{\\\"max-batch-size\\\": -3}\"}}");
    assertThat(badOverride.statusCode()).isEqualTo(400);
    assertThat(error(badOverride)).contains("max-batch-size").doesNotContain(repo.toString());
    assertThat(get("/v2/models/a/ready").statusCode()).isEqualTo(200);

    HttpResponse<String> override =
        post(
            "/v2/repository/models/a/load",
            "{\"parameters\":{\"config\":\"{\\\"max-batch-size\\\": 2}\"}}");
    assertThat(override.statusCode()).isEqualTo(200);
    // The same version reloaded with a new configuration keeps its series.
    assertThat(metrics.scrape())
        .contains("fulcrum_model_load_duration_seconds{model=\"a\",version=\"1\"}");
    assertThat(JSON.readTree(get("/v2/models/a/config").body()).get("max_batch_size").asInt())
        .isEqualTo(2);

    // Triton's ModelConfig JSON, as tritonclient's load_model(config=...) sends it: the model's
    // own GET .../config, edited and posted back.
    ObjectNode triton = (ObjectNode) JSON.readTree(get("/v2/models/a/config").body());
    triton.put("max_batch_size", 3);
    HttpResponse<String> tritonOverride =
        post(
            "/v2/repository/models/a/load",
            JSON.writeValueAsString(
                JSON.createObjectNode()
                    .set(
                        "parameters",
                        JSON.createObjectNode().put("config", JSON.writeValueAsString(triton)))));
    assertThat(tritonOverride.statusCode()).as(tritonOverride.body()).isEqualTo(200);
    assertThat(JSON.readTree(get("/v2/models/a/config").body()).get("max_batch_size").asInt())
        .isEqualTo(3);
    HttpResponse<String> neither =
        post(
            "/v2/repository/models/a/load",
            "{\"parameters\":{\"config\":\"{\\\"max_batch_sise\\\": 3}\"}}");
    assertThat(neither.statusCode()).isEqualTo(400);
    assertThat(error(neither)).contains("max_batch_sise");

    HttpResponse<String> empty =
        post("/v2/repository/models/a/load", "{\"parameters\":{\"config\":\"\"}}");
    assertThat(empty.statusCode()).isEqualTo(400);
    assertThat(error(empty)).contains("parameter 'config' is empty");
    assertThat(post("/v2/repository/models/nope/load", "").statusCode()).isEqualTo(404);
    assertThat(post("/v2/repository/models/a/load", "[1]").statusCode()).isEqualTo(400);
    assertThat(get("/v2/repository/index").statusCode()).isEqualTo(405);
  }

  @Test
  void explicitModeLoadsAndUnloadsOverGrpc() throws Exception {
    writeModel("a", 1, "identity");
    start(ControlMode.EXPLICIT, List.of());
    var stub =
        GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    assertThat(stub.repositoryIndex(RepositoryIndexRequest.newBuilder().setReady(true).build()))
        .isEqualTo(RepositoryIndexResponse.getDefaultInstance());

    stub.repositoryModelLoad(
        RepositoryModelLoadRequest.newBuilder()
            .setModelName("a")
            .putParameters(
                "config",
                ModelRepositoryParameter.newBuilder()
                    .setStringParam("{\"max-batch-size\": 2}")
                    .build())
            .build());
    assertThat(
            stub.modelConfig(ModelConfigRequest.newBuilder().setName("a").build())
                .getConfig()
                .getMaxBatchSize())
        .isEqualTo(2);
    RepositoryIndexResponse ready =
        stub.repositoryIndex(RepositoryIndexRequest.newBuilder().setReady(true).build());
    assertThat(ready.getModelsList())
        .singleElement()
        .satisfies(
            m -> {
              assertThat(m.getName()).isEqualTo("a");
              assertThat(m.getVersion()).isEqualTo("1");
              assertThat(m.getState()).isEqualTo("READY");
            });

    stub.repositoryModelUnload(RepositoryModelUnloadRequest.newBuilder().setModelName("a").build());
    assertThat(stub.repositoryIndex(RepositoryIndexRequest.getDefaultInstance()).getModels(0))
        .satisfies(
            m -> {
              assertThat(m.getState()).isEqualTo("UNAVAILABLE");
              assertThat(m.getReason()).isEqualTo("unloaded");
            });

    StatusRuntimeException e =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () ->
                stub.repositoryModelLoad(
                    RepositoryModelLoadRequest.newBuilder().setModelName("nope").build()));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);

    // What REST refuses, gRPC refuses too: model files in the request (Triton's "file:" bytes,
    // which the load would ignore), a config that is not a string, an empty one.
    for (ModelRepositoryParameter.Builder p :
        List.of(
            ModelRepositoryParameter.newBuilder().setBoolParam(true),
            ModelRepositoryParameter.newBuilder().setStringParam(""),
            ModelRepositoryParameter.newBuilder().setStringParam("{}"))) {
      String key = p.getStringParam().equals("{}") ? "file:1/model.onnx" : "config";
      StatusRuntimeException refused =
          catchThrowableOfType(
              StatusRuntimeException.class,
              () ->
                  stub.repositoryModelLoad(
                      RepositoryModelLoadRequest.newBuilder()
                          .setModelName("a")
                          .putParameters(key, p.build())
                          .build()));
      assertThat(refused.getStatus().getCode()).as(key).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(refused.getStatus().getDescription()).contains(key);
    }
  }

  @Test
  void noneModeRefusesLoadAndUnload() throws Exception {
    writeModel("a", 1, "identity");
    start(ControlMode.NONE, List.of());
    HttpResponse<String> r = post("/v2/repository/models/a/load", "");
    assertThat(r.statusCode()).isEqualTo(501);
    assertThat(error(r)).contains("--model-control-mode explicit");
    assertThat(post("/v2/repository/models/a/unload", "").statusCode()).isEqualTo(501);
    assertThat(index("{\"ready\":true}")).containsExactly("a/1/READY");
  }

  @Test
  void pollModeFollowsVersionFoldersAndConfigChanges() throws Exception {
    writeModel("m", 1, "identity");
    start(ControlMode.POLL, List.of());
    assertThat(index("")).containsExactly("m/1/READY");

    writeModel("m", 2, "identity");
    Await.until("version 2 serves", () -> index("{\"ready\":true}").equals(List.of("m/2/READY")));
    assertThat(
            JSON.readTree(post("/v2/models/m/infer", INFER).body()).get("model_version").asText())
        .isEqualTo("2");
    assertThat(post("/v2/models/m/versions/1/infer", INFER).statusCode()).isEqualTo(503);

    try (Stream<Path> files = Files.walk(repo.resolve("m/2"))) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
    Await.until(
        "version 1 serves again", () -> index("{\"ready\":true}").equals(List.of("m/1/READY")));

    Files.writeString(repo.resolve("m/config.yaml"), "max-batch-size: 3\n");
    Await.until(
        "the new configuration serves",
        () -> JSON.readTree(get("/v2/models/m/config").body()).get("max_batch_size").asInt() == 3);
    HttpResponse<String> r = post("/v2/repository/models/m/load", "");
    assertThat(r.statusCode()).isEqualTo(501);
  }

  @Test
  void warmUpGatesReadinessAndIsReported() throws Exception {
    writeModel("a", 1, "identity");
    writeModel("w", 1, "gate");
    Files.writeString(
        repo.resolve("w/config.yaml"),
        """
        model-warmup:
          - name: zeros
            batch-size: 2
            inputs:
              IN: {data-type: FP32, dims: [4], zero-data: true}
        """);
    start(ControlMode.EXPLICIT, List.of("a"));
    FakeRuntime.closeGate();
    CompletableFuture<HttpResponse<String>> load =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return post("/v2/repository/models/w/load", "");
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    Await.until("the warm-up runs", () -> index("").contains("w/1/LOADING"));
    assertThat(get("/v2/models/w/ready").statusCode()).isEqualTo(503);
    assertThat(load).isNotDone();
    // Readiness is per model: 'a' serves while 'w' warms up; the server (strict) is not ready.
    assertThat(get("/v2/models/a/ready").statusCode()).isEqualTo(200);
    assertThat(post("/v2/models/a/infer", INFER).statusCode()).isEqualTo(200);
    assertThat(get("/v2/health/ready").statusCode()).isEqualTo(503);

    FakeRuntime.openGate();
    assertThat(load.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    assertThat(get("/v2/models/w/ready").statusCode()).isEqualTo(200);
    assertThat(get("/v2/health/ready").statusCode()).isEqualTo(200);
    JsonNode stats = JSON.readTree(get("/v2/models/w/stats").body()).get("model_stats").get(0);
    assertThat(stats.get("warmup_duration_ns").asLong()).isPositive();
    assertThat(stats.get("load_duration_ns").asLong())
        .isGreaterThanOrEqualTo(stats.get("warmup_duration_ns").asLong());
    assertThat(metrics.scrape())
        .contains("fulcrum_model_warmup_duration_seconds{model=\"w\",version=\"1\"}")
        .contains("fulcrum_model_load_duration_seconds{model=\"w\",version=\"1\"}");

    // A warm-up that does not fit fails the load with the field named; what serves stays.
    Files.writeString(
        repo.resolve("w/config.yaml"),
        "model-warmup:\n  - name: bad\n    inputs:\n      IN: {zero-data: true}\n");
    HttpResponse<String> bad = post("/v2/repository/models/w/load", "");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(error(bad)).contains("w/config.yaml", "model-warmup[0].inputs.IN.dims");
    assertThat(get("/v2/models/w/ready").statusCode()).isEqualTo(200);
    assertThat(metrics.scrape())
        .contains("fulcrum_model_load_failures_total{model=\"w\",version=\"1\"} 1.0");
  }

  @Test
  void warmUpSamplesShowInConfigAndSurviveTritonsReadEditLoadRoundTrip() throws Exception {
    // GET .../config answered "model_warmup": [], so tritonclient's get_model_config, edited and
    // sent back with load_model(config=...), reloaded the model without its warm-up.
    writeModel("w", 1, "identity");
    Files.createDirectories(repo.resolve("w/warmup"));
    Files.write(repo.resolve("w/warmup/in.bin"), new byte[16]);
    Files.writeString(
        repo.resolve("w/config.yaml"),
        """
        max-batch-size: 4
        model-warmup:
          - name: zeros
            batch-size: 2
            inputs:
              IN: {data-type: FP32, dims: [4], zero-data: true}
          - name: recorded
            count: 3
            inputs:
              IN: {dims: [4], input-data-file: warmup/in.bin}
        """);
    start(ControlMode.EXPLICIT, List.of("w"));
    ObjectNode triton = (ObjectNode) JSON.readTree(get("/v2/models/w/config").body());
    assertThat(triton.get("model_warmup").toString())
        .isEqualTo(
            "[{\"name\":\"zeros\",\"batch_size\":2,\"inputs\":{\"IN\":{\"data_type\":\"TYPE_FP32\","
                + "\"dims\":[4],\"zero_data\":true}},\"count\":1},"
                + "{\"name\":\"recorded\",\"batch_size\":1,\"inputs\":{\"IN\":{\"data_type\":"
                + "\"TYPE_FP32\",\"dims\":[4],\"input_data_file\":\"in.bin\"}},\"count\":3}]");

    triton.put("max_batch_size", 3);
    HttpResponse<String> reload =
        post(
            "/v2/repository/models/w/load",
            JSON.writeValueAsString(
                JSON.createObjectNode()
                    .set(
                        "parameters",
                        JSON.createObjectNode().put("config", JSON.writeValueAsString(triton)))));
    assertThat(reload.statusCode()).as(reload.body()).isEqualTo(200);
    JsonNode after = JSON.readTree(get("/v2/models/w/config").body());
    assertThat(after.get("max_batch_size").asInt()).isEqualTo(3);
    assertThat(after.get("model_warmup")).isEqualTo(triton.get("model_warmup"));
  }

  @Test
  void instanceGroupsShowAsConfiguredAndSurviveTritonsReadEditLoadRoundTrip() throws Exception {
    // /config showed one group of the total, and a group without count got 1 where Triton's ONNX
    // Runtime backend makes 2 (KIND_CPU)
    writeModel("g", 1, "identity");
    Files.writeString(
        repo.resolve("g/config.pbtxt"),
        """
        platform: "onnxruntime_onnx"
        instance_group [ { count: 2 kind: KIND_CPU }, { name: "one" count: 1 kind: KIND_CPU } ]
        """);
    start(ControlMode.EXPLICIT, List.of("g"));
    assertThat(server.service.repository().versions("g").getFirst().scheduler().instanceCount())
        .isEqualTo(3);
    ObjectNode triton = (ObjectNode) JSON.readTree(get("/v2/models/g/config").body());
    assertThat(triton.get("instance_group"))
        .extracting(
            g -> g.get("name").asText() + " " + g.get("kind").asText() + " " + g.get("count"))
        .containsExactly("g_0 KIND_CPU 2", "one KIND_CPU 1");

    // tritonclient's read-edit-load: another group, without count (Triton's default: 2)
    ((ArrayNode) triton.get("instance_group")).addObject().put("kind", "KIND_CPU");
    HttpResponse<String> reload =
        post(
            "/v2/repository/models/g/load",
            JSON.writeValueAsString(
                JSON.createObjectNode()
                    .set(
                        "parameters",
                        JSON.createObjectNode().put("config", JSON.writeValueAsString(triton)))));
    assertThat(reload.statusCode()).as(reload.body()).isEqualTo(200);
    JsonNode after = JSON.readTree(get("/v2/models/g/config").body());
    assertThat(after.get("instance_group"))
        .extracting(g -> g.get("name").asText() + " " + g.get("count"))
        .containsExactly("g_0 2", "one 1", "g_2 2");
    assertThat(server.service.repository().versions("g").getFirst().scheduler().instanceCount())
        .isEqualTo(5);
  }

  @Test
  void aSwapUnderConcurrentRequestsFailsNone() throws Exception {
    writeModel("m", 1, "identity");
    start(ControlMode.EXPLICIT, List.of("m"));
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicInteger sent = new AtomicInteger();
    Map<String, AtomicInteger> byStatus = new ConcurrentHashMap<>();
    var grpcStub = GRPCInferenceServiceGrpc.newBlockingStub(channel);
    ModelInferRequest grpcRequest =
        ModelInferRequest.newBuilder()
            .setModelName("m")
            .addInputs(
                ModelInferRequest.InferInputTensor.newBuilder()
                    .setName("IN")
                    .setDatatype("FP32")
                    .addShape(1)
                    .addShape(4)
                    .setContents(
                        InferTensorContents.newBuilder()
                            .addAllFp32Contents(List.of(1f, 2f, 3f, 4f))))
            .build();
    List<Thread> clients = new ArrayList<>();
    for (int c = 0; c < 4; c++) {
      boolean rest = c % 2 == 0;
      clients.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    while (running.get()) {
                      sent.incrementAndGet();
                      String status;
                      if (rest) {
                        try {
                          status = "http-" + post("/v2/models/m/infer", INFER).statusCode();
                        } catch (Exception e) {
                          status = "http-" + e;
                        }
                      } else {
                        try {
                          grpcStub.withDeadlineAfter(60, TimeUnit.SECONDS).modelInfer(grpcRequest);
                          status = "grpc-OK";
                        } catch (StatusRuntimeException e) {
                          status = "grpc-" + e.getStatus().getCode();
                        }
                      }
                      byStatus.computeIfAbsent(status, k -> new AtomicInteger()).incrementAndGet();
                    }
                  }));
    }
    Await.until("requests flow", () -> sent.get() > 20);
    writeModel("m", 2, "identity"); // a new version
    assertThat(post("/v2/repository/models/m/load", "").statusCode()).isEqualTo(200);
    int afterFirst = sent.get();
    Await.until("requests flow", () -> sent.get() > afterFirst + 20);
    Files.writeString(repo.resolve("m/config.yaml"), "max-batch-size: 4\n"); // a new config
    assertThat(post("/v2/repository/models/m/load", "").statusCode()).isEqualTo(200);
    int afterSecond = sent.get();
    Await.until("requests flow", () -> sent.get() > afterSecond + 20);
    running.set(false);
    for (Thread t : clients) {
      t.join(60_000);
    }

    int ok = count(byStatus, "http-200") + count(byStatus, "grpc-OK");
    int rejected = count(byStatus, "http-429") + count(byStatus, "grpc-RESOURCE_EXHAUSTED");
    int timedOut = count(byStatus, "http-504") + count(byStatus, "grpc-DEADLINE_EXCEEDED");
    assertThat(ok + rejected + timedOut).as("statuses %s", byStatus).isEqualTo(sent.get());
    assertThat(count(byStatus, "http-200")).isPositive();
    assertThat(count(byStatus, "grpc-OK")).isPositive();
    assertThat(
            JSON.readTree(post("/v2/models/m/infer", INFER).body()).get("model_version").asText())
        .isEqualTo("2");
  }

  /**
   * What bench/churn_soak.sh does for an hour (a reload every 30 s, an unload and load every 2 min)
   * compressed: after the first cycles, more reloads and unload/load cycles leave no server thread
   * and no metric series behind. A leak here grows with every reload, which a soak sees as a slope
   * and this test as a count.
   */
  @Test
  void reloadAndUnloadCyclesLeaveNoThreadsOrSeriesBehind() throws Exception {
    writeModel("m", 1, "identity");
    writeModel("n", 1, "identity");
    start(ControlMode.EXPLICIT, List.of("m", "n"));
    churn(3); // every pool at its working size, every series once
    Map<String, Long> threads = serverThreads();
    long series = seriesCount();

    churn(20);

    Await.until(
        "the drained copies' threads are gone",
        () -> serverThreads().equals(threads),
        () -> "before " + threads + ", now " + serverThreads());
    assertThat(seriesCount()).isEqualTo(series);
  }

  /**
   * {@code cycles} times: m reloaded (a config override, then config.yaml), n unloaded and loaded.
   */
  private void churn(int cycles) throws Exception {
    for (int i = 0; i < cycles; i++) {
      String override = "{\"parameters\":{\"config\":\"{\\\"max-batch-size\\\": 2}\"}}";
      assertThat(post("/v2/repository/models/m/load", override).statusCode()).isEqualTo(200);
      assertThat(post("/v2/models/m/infer", INFER).statusCode()).isEqualTo(200);
      assertThat(post("/v2/repository/models/m/load", "").statusCode()).isEqualTo(200);
      assertThat(post("/v2/models/m/infer", INFER).statusCode()).isEqualTo(200);
      assertThat(post("/v2/repository/models/n/unload", "").statusCode()).isEqualTo(200);
      assertThat(post("/v2/repository/models/n/load", "").statusCode()).isEqualTo(200);
      assertThat(post("/v2/models/n/infer", INFER).statusCode()).isEqualTo(200);
    }
  }

  /** The server's live threads (named fulcrum-...), by name with the digits taken out. */
  private static Map<String, Long> serverThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().startsWith("fulcrum-"))
        .collect(
            Collectors.groupingBy(
                t -> t.getName().replaceAll("[0-9]+", "N"), TreeMap::new, Collectors.counting()));
  }

  private long seriesCount() {
    return metrics.scrape().lines().filter(l -> !l.isEmpty() && !l.startsWith("#")).count();
  }

  private static int count(Map<String, AtomicInteger> byStatus, String status) {
    AtomicInteger n = byStatus.get(status);
    return n == null ? 0 : n.get();
  }
}
