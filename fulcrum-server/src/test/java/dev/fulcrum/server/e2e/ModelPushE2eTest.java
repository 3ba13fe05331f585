package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.google.protobuf.ByteString;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelFiles;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.ModelMetadataRequest;
import dev.fulcrum.server.grpc.proto.ModelRepositoryParameter;
import dev.fulcrum.server.grpc.proto.RepositoryModelLoadRequest;
import dev.fulcrum.server.grpc.proto.RepositoryModelUnloadRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A CD pipeline's push (Triton's repository load with {@code file:<version>/<path>} parameters):
 * the demo fraud classifier's ONNX bytes and a configuration sent over REST (base64) and gRPC
 * (bytes), served from a folder the server owns (the repository stays empty), answered, replaced by
 * a new push, unloaded; and the requests it refuses.
 */
class ModelPushE2eTest {
  static final Path FRAUD_ONNX =
      E2eServer.DEMO_MODELS.resolve("fraud_classifier").resolve("1").resolve("model.onnx");

  /** The fraud classifier's configuration as a pipeline sends it (config.yaml's keys as JSON). */
  static final String CONFIG =
      """
      {"platform": "onnxruntime_onnx", "max-batch-size": 64,
       "inputs": [{"name": "features", "datatype": "FP32", "dims": [8]}],
       "outputs": [{"name": "probabilities", "datatype": "FP32", "dims": [2]},
                   {"name": "label", "datatype": "INT64", "dims": []}]}""";

  static final String ROW =
      """
      {"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32",
                  "data":[[2500.0, 3, 0.9, 800.0, 14, 20, 1, 0]]}]}""";

  @TempDir static Path repository;
  static E2eServer server;
  static E2eServer.GrpcPort grpc;
  static byte[] onnx;

  @BeforeAll
  static void start() throws Exception {
    assumeThat(FRAUD_ONNX).as("the demo fraud classifier").isRegularFile();
    onnx = Files.readAllBytes(FRAUD_ONNX);
    server =
        E2eServer.serving(repository)
            .settings(ModelRepository.Settings.defaults().withMode(ControlMode.EXPLICIT))
            .start();
    grpc = server.startGrpc();
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static String loadBody(String config, Map<String, String> files) {
    StringBuilder b = new StringBuilder("{\"parameters\": {");
    String sep = "";
    if (config != null) {
      b.append("\"config\": ").append(E2eServer.quote(config));
      sep = ", ";
    }
    for (Map.Entry<String, String> f : files.entrySet()) {
      b.append(sep).append(E2eServer.quote(f.getKey())).append(": ");
      b.append(E2eServer.quote(f.getValue()));
      sep = ", ";
    }
    return b.append("}}").toString();
  }

  private static String base64(byte[] b) {
    return Base64.getEncoder().encodeToString(b);
  }

  private HttpResponse<byte[]> push(String model, String config, Map<String, String> files)
      throws Exception {
    return server.post("/v2/repository/models/" + model + "/load", loadBody(config, files));
  }

  private Path modelFolder() throws Exception {
    return server.service.repository().manager().modelFiles().prepare();
  }

  @Test
  void aModelPushedOverRestServesIsReplacedByTheNextPushAndLeavesNothingWhenUnloaded()
      throws Exception {
    HttpResponse<byte[]> loaded =
        push("pushed_rest", CONFIG, Map.of("file:1/model.onnx", base64(onnx)));
    assertThat(loaded.statusCode()).as(text(loaded)).isEqualTo(200);

    HttpResponse<byte[]> r = server.post(inferPath("pushed_rest"), ROW);
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(output(r, "probabilities").get("shape").toString()).isEqualTo("[1,2]");
    assertThat(repository).isEmptyDirectory(); // the user's repository is not written
    assertThat(modelFolder().resolve("pushed_rest")).isDirectory();

    // A new push (version 2) replaces version 1 under the default policy (latest 1).
    HttpResponse<byte[]> again =
        push("pushed_rest", CONFIG, Map.of("file:2/model.onnx", base64(onnx)));
    assertThat(again.statusCode()).as(text(again)).isEqualTo(200);
    assertThat(E2eServer.JSON.readTree(server.get("/v2/models/pushed_rest").body()).get("versions"))
        .hasToString("[\"2\"]");
    assertThat(server.post(inferPath("pushed_rest"), ROW).statusCode()).isEqualTo(200);
    try (var folders = Files.list(modelFolder().resolve("pushed_rest"))) {
      assertThat(folders.toList()).as("only the folder that serves is kept").hasSize(1);
    }
    // A load without files of a model the repository does not have reloads the pushed folder.
    HttpResponse<byte[]> reload = server.post("/v2/repository/models/pushed_rest/load", "");
    assertThat(reload.statusCode()).as(text(reload)).isEqualTo(200);

    HttpResponse<byte[]> unloaded = server.post("/v2/repository/models/pushed_rest/unload", "");
    assertThat(unloaded.statusCode()).as(text(unloaded)).isEqualTo(200);
    assertThat(server.post(inferPath("pushed_rest"), ROW).statusCode()).isIn(404, 503);
    assertThat(modelFolder().resolve("pushed_rest")).doesNotExist();
  }

  @Test
  void aModelPushedOverGrpcServes() throws Exception {
    var stub =
        GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
            .withDeadlineAfter(120, TimeUnit.SECONDS);
    stub.repositoryModelLoad(
        RepositoryModelLoadRequest.newBuilder()
            .setModelName("pushed_grpc")
            .putParameters(
                "config", ModelRepositoryParameter.newBuilder().setStringParam(CONFIG).build())
            .putParameters(
                "file:1/model.onnx",
                ModelRepositoryParameter.newBuilder()
                    .setBytesParam(ByteString.copyFrom(onnx))
                    .build())
            .build());
    ByteBuffer row = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : new float[] {2500f, 3f, 0.9f, 800f, 14f, 20f, 1f, 0f}) {
      row.putFloat(f);
    }
    ModelInferResponse answer =
        stub.modelInfer(
            ModelInferRequest.newBuilder()
                .setModelName("pushed_grpc")
                .addInputs(
                    ModelInferRequest.InferInputTensor.newBuilder()
                        .setName("features")
                        .setDatatype("FP32")
                        .addShape(1)
                        .addShape(8))
                .addRawInputContents(ByteString.copyFrom(row.array()))
                .build());
    assertThat(answer.getOutputsList()).extracting(o -> o.getName()).contains("probabilities");
    assertThat(
            stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("pushed_grpc").build())
                .getVersionsList())
        .containsExactly("1");
    stub.repositoryModelUnload(
        RepositoryModelUnloadRequest.newBuilder().setModelName("pushed_grpc").build());
  }

  @Test
  void grpcRefusesFilesNotSentAsBytesAndBadPaths() {
    var stub =
        GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
            .withDeadlineAfter(60, TimeUnit.SECONDS);
    ModelRepositoryParameter config =
        ModelRepositoryParameter.newBuilder().setStringParam(CONFIG).build();
    assertThatThrownBy(
            () ->
                stub.repositoryModelLoad(
                    RepositoryModelLoadRequest.newBuilder()
                        .setModelName("refused_grpc")
                        .putParameters("config", config)
                        .putParameters(
                            "file:1/model.onnx",
                            ModelRepositoryParameter.newBuilder().setStringParam("x").build())
                        .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT))
        .hasMessageContaining("parameter 'file:1/model.onnx' must be a bytes_param");
    assertThatThrownBy(
            () ->
                stub.repositoryModelLoad(
                    RepositoryModelLoadRequest.newBuilder()
                        .setModelName("refused_grpc")
                        .putParameters("config", config)
                        .putParameters(
                            "file:../../etc/x",
                            ModelRepositoryParameter.newBuilder()
                                .setBytesParam(ByteString.copyFrom(onnx))
                                .build())
                        .build()))
        .hasMessageContaining("INVALID_ARGUMENT")
        .hasMessageContaining("parameter 'file:../../etc/x' must start with a version folder");
  }

  @Test
  void restRefusesTraversalMissingConfigBadBase64AndTooMuchWithNothingServed() throws Exception {
    Map<Map<String, String>, String> refused =
        Map.of(
            Map.of("file:../x", base64(onnx)), "must start with a version folder",
            Map.of("file:/etc/passwd", base64(onnx)), "must be a relative path",
            Map.of("file:1/../../x", base64(onnx)), "'..'",
            Map.of("file:model.onnx", base64(onnx)), "model files go in a version folder",
            Map.of("file:1/model.onnx", "%%% not base64"), "is not valid base64");
    for (Map.Entry<Map<String, String>, String> c : refused.entrySet()) {
      HttpResponse<byte[]> r = push("refused_rest", CONFIG, c.getKey());
      assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
      assertThat(error(r)).contains(c.getValue());
    }
    HttpResponse<byte[]> noConfig =
        push("refused_rest", null, Map.of("file:1/model.onnx", base64(onnx)));
    assertThat(noConfig.statusCode()).isEqualTo(400);
    assertThat(error(noConfig)).contains("needs the 'config' parameter");

    // A config given twice was silently the last one.
    HttpResponse<byte[]> twice =
        server.post(
            "/v2/repository/models/refused_rest/load",
            "{\"parameters\": {\"config\": "
                + E2eServer.quote(CONFIG)
                + ", \"config\": "
                + E2eServer.quote(CONFIG)
                + ", \"file:1/model.onnx\": "
                + E2eServer.quote(base64(onnx))
                + "}}");
    assertThat(twice.statusCode()).as(text(twice)).isEqualTo(400);
    assertThat(error(twice)).contains("gives a member twice").contains("'config'");
    assertThat(server.post(inferPath("refused_rest"), ROW).statusCode()).isIn(404, 503);

    // Files that do not load: a 400 with the reason, nothing served, nothing left on disk.
    HttpResponse<byte[]> broken =
        push("refused_rest", CONFIG, Map.of("file:1/model.onnx", base64(new byte[] {1, 2, 3})));
    assertThat(broken.statusCode()).as(text(broken)).isEqualTo(400);
    assertThat(error(broken)).contains("failed to load 'refused_rest'");
    assertThat(server.post(inferPath("refused_rest"), ROW).statusCode()).isIn(404, 503);
    assertThat(modelFolder().resolve("refused_rest")).doesNotExist();

    assertThat(repository).isEmptyDirectory();
  }

  @Test
  void filesOverTheLimitAre413OverRestAndResourceExhaustedOverGrpc(@TempDir Path empty)
      throws Exception {
    try (E2eServer small =
        E2eServer.serving(empty)
            .settings(ModelRepository.Settings.defaults().withMode(ControlMode.EXPLICIT))
            .start()) {
      small.service.repository().manager().modelFiles(new ModelFiles.Settings(null, 100));
      HttpResponse<byte[]> big =
          small.post(
              "/v2/repository/models/big/load",
              loadBody(CONFIG, Map.of("file:1/model.onnx", base64(onnx))));
      assertThat(big.statusCode()).as(text(big)).isEqualTo(413);
      assertThat(error(big))
          .isEqualTo(
              "the model files of the load request of 'big' are "
                  + onnx.length
                  + " bytes, more than the 100 bytes allowed (--model-load-max-bytes)");
      E2eServer.GrpcPort port = small.startGrpc();
      assertThatThrownBy(
              () ->
                  GRPCInferenceServiceGrpc.newBlockingStub(port.channel)
                      .withDeadlineAfter(60, TimeUnit.SECONDS)
                      .repositoryModelLoad(
                          RepositoryModelLoadRequest.newBuilder()
                              .setModelName("big")
                              .putParameters(
                                  "config",
                                  ModelRepositoryParameter.newBuilder()
                                      .setStringParam(CONFIG)
                                      .build())
                              .putParameters(
                                  "file:1/model.onnx",
                                  ModelRepositoryParameter.newBuilder()
                                      .setBytesParam(ByteString.copyFrom(onnx))
                                      .build())
                              .build()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED))
          .hasMessageContaining("more than the 100 bytes allowed");
    }
  }

  @Test
  void withoutExplicitModelControlAPushIsRefusedAsAnyLoad(@TempDir Path empty) throws Exception {
    try (E2eServer none = E2eServer.start(empty)) {
      HttpResponse<byte[]> r =
          none.post(
              "/v2/repository/models/m/load",
              loadBody(CONFIG, Map.of("file:1/model.onnx", base64(onnx))));
      assertThat(r.statusCode()).as(text(r)).isEqualTo(501);
      assertThat(error(r)).contains("only with --model-control-mode explicit");
    }
  }
}
