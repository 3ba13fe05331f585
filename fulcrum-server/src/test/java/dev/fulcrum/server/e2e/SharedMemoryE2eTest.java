package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.header;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferParameter;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryRegisterRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryStatusRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryStatusResponse;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryUnregisterRequest;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Triton's system shared memory extension over real sockets, as tritonclient uses it: the client
 * creates POSIX objects in {@code /dev/shm}, registers regions of them (REST or gRPC; one registry
 * for both ports), puts inputs there and asks outputs into them, against the demo's fraud
 * classifier, MiniLM and its text pipeline (BYTES in Triton's 4-byte-length layout). Every answer
 * is compared with the same request sent with its data in the body.
 */
class SharedMemoryE2eTest {
  private static final Path DEV_SHM = SharedMemoryRegistry.DEV_SHM;
  private static final String PREFIX = "fulcrum_e2e_" + ProcessHandle.current().pid() + "_";

  @AutoClose private static E2eServer server;
  private static E2eServer.GrpcPort grpc;
  private static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub;
  private static final List<Path> objects = new ArrayList<>();

  /** Two transactions' features, amount_usd ... card_present. */
  private static final float[] FEATURES = {
    2500f, 3, 0.9f, 800f, 14, 20, 1, 0, 12.5f, 14, 0.1f, 2f, 1, 2000, 0, 1
  };

  @BeforeAll
  static void start() throws Exception {
    assumeThat(DEV_SHM).as("POSIX shared memory (/dev/shm)").isDirectory();
    assumeThat(E2eServer.DEMO_MODELS.resolve("fraud_classifier")).isDirectory();
    server = E2eServer.startSharedMemory(E2eServer.DEMO_MODELS, SharedMemoryRegistry.devShm(true));
    grpc = server.startGrpc();
    stub = GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel);
  }

  @AfterEach
  void unregisterAll() throws Exception {
    assertThat(server.post("/v2/systemsharedmemory/unregister", "").statusCode()).isEqualTo(200);
  }

  @AfterAll
  static void unlink() throws IOException {
    for (Path p : objects) {
      Files.deleteIfExists(p);
    }
  }

  /** Creates {@code /dev/shm/<prefix><name>} of {@code size} bytes; its key. */
  private static String object(String name, int size) throws IOException {
    Path p = DEV_SHM.resolve(PREFIX + name);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(size);
    }
    objects.add(p);
    return "/" + PREFIX + name;
  }

  private static void put(String key, long offset, ByteBuffer data) throws IOException {
    try (FileChannel ch =
        FileChannel.open(DEV_SHM.resolve(key.substring(1)), StandardOpenOption.WRITE)) {
      ch.write(data.duplicate(), offset);
    }
  }

  private static ByteBuffer get(String key, long offset, int length) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
    try (FileChannel ch = FileChannel.open(DEV_SHM.resolve(key.substring(1)))) {
      ch.read(b, offset);
    }
    return b.flip();
  }

  private static ByteBuffer features() {
    ByteBuffer b = ByteBuffer.allocate(FEATURES.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : FEATURES) {
      b.putFloat(f);
    }
    return b.flip();
  }

  private static HttpResponse<byte[]> register(String region, String key, long offset, long size)
      throws Exception {
    return server.post(
        "/v2/systemsharedmemory/region/" + region + "/register",
        "{\"key\":\"%s\",\"offset\":%d,\"byte_size\":%d}".formatted(key, offset, size));
  }

  /** The fraud classifier's {@code [success, fail]} counts in its statistics. */
  private static long[] fraudCounts() throws Exception {
    HttpResponse<byte[]> r = server.get("/v2/models/fraud_classifier/stats");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode s = header(r).get("model_stats").get(0).get("inference_stats");
    return new long[] {s.get("success").get("count").asLong(), s.get("fail").get("count").asLong()};
  }

  /** The fraud classifier's answer to {@link #FEATURES} sent in the body, as JSON. */
  private static JsonNode plainFraud() throws Exception {
    StringBuilder data = new StringBuilder();
    for (float f : FEATURES) {
      data.append(data.isEmpty() ? "" : ",").append(f);
    }
    HttpResponse<byte[]> r =
        server.post(
            inferPath("fraud_classifier"),
            """
            {"inputs":[{"name":"features","shape":[2,8],"datatype":"FP32","data":[%s]}]}"""
                .formatted(data));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return header(r);
  }

  @Test
  void restJsonReadsInputsFromAndWritesOutputsIntoRegions() throws Exception {
    String in = object("fraud_in", 4096);
    String out = object("fraud_out", 4096);
    put(in, 128, features());
    assertThat(register("in", in, 128, 64).statusCode()).isEqualTo(200);
    HttpResponse<byte[]> reg = register("out", out, 0, 4096);
    assertThat(reg.statusCode()).as(text(reg)).isEqualTo(200);

    HttpResponse<byte[]> status = server.get("/v2/systemsharedmemory/region/in/status");
    assertThat(status.statusCode()).isEqualTo(200);
    assertThat(text(status))
        .isEqualTo("[{\"name\":\"in\",\"key\":\"%s\",\"offset\":128,\"byte_size\":64}]", in);
    assertThat(E2eServer.JSON.readTree(server.get("/v2/systemsharedmemory/status").body()))
        .hasSize(2);

    HttpResponse<byte[]> r =
        server.post(
            inferPath("fraud_classifier"),
            """
            {"inputs":[{"name":"features","shape":[2,8],"datatype":"FP32",
               "parameters":{"shared_memory_region":"in","shared_memory_byte_size":64}}],
             "outputs":[
               {"name":"probabilities","parameters":{"shared_memory_region":"out",
                  "shared_memory_byte_size":16}},
               {"name":"label","parameters":{"shared_memory_region":"out",
                  "shared_memory_byte_size":16,"shared_memory_offset":64}}]}""");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode probabilities = output(r, "probabilities");
    assertThat(probabilities.has("data")).isFalse();
    assertThat(probabilities.get("shape").toString()).isEqualTo("[2,2]");
    assertThat(probabilities.get("parameters").toString())
        .isEqualTo("{\"shared_memory_region\":\"out\",\"shared_memory_byte_size\":16}");
    assertThat(output(r, "label").get("parameters").toString())
        .isEqualTo(
            "{\"shared_memory_region\":\"out\",\"shared_memory_byte_size\":16,"
                + "\"shared_memory_offset\":64}");

    JsonNode plain = plainFraud();
    ByteBuffer p = get(out, 0, 16);
    ByteBuffer l = get(out, 64, 16);
    for (int i = 0; i < 4; i++) {
      assertThat(p.getFloat(i * 4))
          .isEqualTo((float) plain.get("outputs").get(0).get("data").get(i).asDouble());
    }
    for (int i = 0; i < 2; i++) {
      assertThat(l.getLong(i * 8))
          .isEqualTo(plain.get("outputs").get(1).get("data").get(i).asLong());
    }
  }

  @Test
  void restBinaryMixesARegionInputWithABinaryOutputAndARegionOutput() throws Exception {
    String in = object("bin_in", 64);
    String out = object("bin_out", 16);
    put(in, 0, features());
    assertThat(register("in", in, 0, 64).statusCode()).isEqualTo(200);
    assertThat(register("out", out, 0, 16).statusCode()).isEqualTo(200);
    String json =
        """
        {"inputs":[{"name":"features","shape":[2,8],"datatype":"FP32",
           "parameters":{"shared_memory_region":"in","shared_memory_byte_size":64}}],
         "outputs":[{"name":"probabilities","parameters":{"binary_data":true}},
                    {"name":"label","parameters":{"shared_memory_region":"out",
                       "shared_memory_byte_size":16}}]}""";
    HttpResponse<byte[]> r = server.post(inferPath("fraud_classifier"), json, new byte[0]);
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    byte[] probabilities = E2eServer.binaryOutputs(r).get("probabilities");
    ByteBuffer p = ByteBuffer.wrap(probabilities).order(ByteOrder.LITTLE_ENDIAN);
    JsonNode plain = plainFraud();
    assertThat(p.getFloat(4))
        .isEqualTo((float) plain.get("outputs").get(0).get("data").get(1).asDouble());
    assertThat(get(out, 8, 8).getLong(0))
        .isEqualTo(plain.get("outputs").get(1).get("data").get(1).asLong());
  }

  @Test
  void grpcRegistersAndRunsMiniLmWithOneInputInARegionAndItsOutputInAnother() throws Exception {
    assumeThat(E2eServer.MINILM_FILE).isRegularFile();
    long[] ids = {101, 7592, 2088, 102};
    String in = object("ids", 32);
    String out = object("hidden", 4 * 384 * 4);
    ByteBuffer idBytes = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
    for (long id : ids) {
      idBytes.putLong(id);
    }
    put(in, 0, idBytes.flip());
    stub.systemSharedMemoryRegister(
        SystemSharedMemoryRegisterRequest.newBuilder()
            .setName("ids")
            .setKey(in)
            .setByteSize(32)
            .build());
    stub.systemSharedMemoryRegister(
        SystemSharedMemoryRegisterRequest.newBuilder()
            .setName("hidden")
            .setKey(out)
            .setByteSize(4 * 384 * 4)
            .build());
    SystemSharedMemoryStatusResponse status =
        stub.systemSharedMemoryStatus(SystemSharedMemoryStatusRequest.getDefaultInstance());
    assertThat(status.getRegionsMap()).containsOnlyKeys("ids", "hidden");
    assertThat(status.getRegionsMap().get("ids").getKey()).isEqualTo(in);
    // The REST port sees the regions the gRPC port registered: one registry per server.
    assertThat(server.get("/v2/systemsharedmemory/region/hidden/status").statusCode())
        .isEqualTo(200);

    ModelInferRequest.Builder shm = miniLm(ids).toBuilder();
    shm.setInputs(
        0,
        shm.getInputs(0).toBuilder()
            .putParameters("shared_memory_region", string("ids"))
            .putParameters("shared_memory_byte_size", int64(32)));
    List<ByteString> others = new ArrayList<>(shm.getRawInputContentsList().subList(1, 3));
    shm.clearRawInputContents().addAllRawInputContents(others);
    shm.setOutputs(
        0,
        shm.getOutputs(0).toBuilder()
            .putParameters("shared_memory_region", string("hidden"))
            .putParameters("shared_memory_byte_size", int64(4 * 384 * 4)));
    ModelInferResponse r = stub.modelInfer(shm.build());
    assertThat(r.getOutputs(0).getParametersMap().get("shared_memory_region").getStringParam())
        .isEqualTo("hidden");
    assertThat(r.getOutputs(0).getShapeList()).containsExactly(1L, 4L, 384L);
    assertThat(r.getRawOutputContentsList()).containsExactly(ByteString.EMPTY);

    // Every input in a region, outputs in the answer: raw, as Triton answers (tritonclient reads
    // raw_output_contents only).
    String all = object("all_ids", 96);
    ByteBuffer three = ByteBuffer.allocate(96).order(ByteOrder.LITTLE_ENDIAN);
    for (long[] row : new long[][] {ids, {1, 1, 1, 1}, {0, 0, 0, 0}}) {
      for (long v : row) {
        three.putLong(v);
      }
    }
    put(all, 0, three.flip());
    stub.systemSharedMemoryRegister(
        SystemSharedMemoryRegisterRequest.newBuilder()
            .setName("all")
            .setKey(all)
            .setByteSize(96)
            .build());
    ModelInferRequest.Builder allShm = miniLm(ids).toBuilder().clearRawInputContents();
    for (int i = 0; i < 3; i++) {
      allShm.setInputs(
          i,
          allShm.getInputs(i).toBuilder()
              .putParameters("shared_memory_region", string("all"))
              .putParameters("shared_memory_byte_size", int64(32))
              .putParameters("shared_memory_offset", int64(32L * i)));
    }
    ModelInferResponse inAnswer = stub.modelInfer(allShm.build());

    ModelInferResponse plain = stub.modelInfer(miniLm(ids));
    assertThat(ByteString.copyFrom(get(out, 0, 4 * 384 * 4)))
        .isEqualTo(plain.getRawOutputContents(0));
    assertThat(inAnswer.getRawOutputContentsList()).containsExactly(plain.getRawOutputContents(0));

    stub.systemSharedMemoryUnregister(
        SystemSharedMemoryUnregisterRequest.newBuilder().setName("ids").build());
    assertThatThrownBy(() -> stub.modelInfer(shm.build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
              assertThat(e.getStatus().getDescription())
                  .contains("Unable to find shared memory region: 'ids'");
            });
    assertThatThrownBy(
            () ->
                stub.systemSharedMemoryStatus(
                    SystemSharedMemoryStatusRequest.newBuilder().setName("ids").build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
  }

  /** MiniLM on token ids, all three inputs raw. */
  private static ModelInferRequest miniLm(long[] ids) {
    ModelInferRequest.Builder b = ModelInferRequest.newBuilder().setModelName("all_minilm_l6_v2");
    for (String name : List.of("input_ids", "attention_mask", "token_type_ids")) {
      b.addInputs(
          ModelInferRequest.InferInputTensor.newBuilder()
              .setName(name)
              .setDatatype("INT64")
              .addShape(1)
              .addShape(4));
      ByteBuffer v = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < 4; i++) {
        v.putLong(
            switch (name) {
              case "input_ids" -> ids[i];
              case "attention_mask" -> 1;
              default -> 0;
            });
      }
      b.addRawInputContents(ByteString.copyFrom(v.flip()));
    }
    b.addOutputs(
        ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("last_hidden_state"));
    return b.build();
  }

  @Test
  void bytesInputsUseTritonsLengthPrefixedLayout() throws Exception {
    assumeThat(E2eServer.MINILM_FILE).isRegularFile();
    String in = object("text", 256);
    String out = object("embedding", 2 * 384 * 4);
    ByteBuffer text = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
    for (String s : List.of("hello world", "Ok")) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      text.putInt(b.length).put(b);
    }
    int size = text.position();
    put(in, 0, text.flip());
    assertThat(register("text", in, 0, size).statusCode()).isEqualTo(200);
    assertThat(register("embedding", out, 0, 2 * 384 * 4).statusCode()).isEqualTo(200);
    HttpResponse<byte[]> r =
        server.post(
            inferPath("minilm_text"),
            """
            {"inputs":[{"name":"text","shape":[2,1],"datatype":"BYTES",
               "parameters":{"shared_memory_region":"text","shared_memory_byte_size":%d}}],
             "outputs":[{"name":"embedding","parameters":{"shared_memory_region":"embedding",
               "shared_memory_byte_size":%d}}]}"""
                .formatted(size, 2 * 384 * 4));
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    HttpResponse<byte[]> plain =
        server.post(
            inferPath("minilm_text"),
            """
            {"inputs":[{"name":"text","shape":[2,1],"datatype":"BYTES",
               "data":["hello world","Ok"]}],
             "outputs":[{"name":"embedding","parameters":{"binary_data":true}}]}""");
    assertThat(plain.statusCode()).as(text(plain)).isEqualTo(200);
    assertThat(get(out, 0, 2 * 384 * 4).array())
        .isEqualTo(E2eServer.binaryOutputs(plain).get("embedding"));

    // One element too many for the bytes given: the tensor's own check, naming the region.
    HttpResponse<byte[]> three =
        server.post(
            inferPath("minilm_text"),
            """
            {"inputs":[{"name":"text","shape":[3,1],"datatype":"BYTES",
               "parameters":{"shared_memory_region":"text","shared_memory_byte_size":%d}}]}"""
                .formatted(size));
    assertThat(three.statusCode()).isEqualTo(400);
    assertThat(error(three)).contains("input 'text' in shared memory region 'text'", "needs 3");
  }

  @Test
  void mistakesAreOipErrorsInTritonsWords() throws Exception {
    String in = object("err_in", 64);
    String small = object("err_small", 8);
    put(in, 0, features());
    assertThat(register("in", in, 0, 64).statusCode()).isEqualTo(200);
    assertThat(register("small", small, 0, 8).statusCode()).isEqualTo(200);

    HttpResponse<byte[]> twice = register("in", in, 0, 64);
    assertThat(twice.statusCode()).isEqualTo(400);
    assertThat(error(twice)).isEqualTo("shared memory region 'in' already in manager");
    HttpResponse<byte[]> escape = register("x", "/../../etc/passwd", 0, 4);
    assertThat(escape.statusCode()).isEqualTo(400);
    assertThat(error(escape)).contains("invalid shm key");
    HttpResponse<byte[]> beyond = register("x", in, 32, 64);
    assertThat(beyond.statusCode()).isEqualTo(400);
    assertThat(error(beyond)).contains("invalid args");
    HttpResponse<byte[]> noKey =
        server.post("/v2/systemsharedmemory/region/x/register", "{\"byte_size\":4}");
    assertThat(error(noKey)).isEqualTo("Shared memory register request has no 'key' field");
    assertThat(server.get("/v2/systemsharedmemory/region/nope/status").statusCode()).isEqualTo(404);

    String fraud =
        """
        {"inputs":[{"name":"features","shape":[2,8],"datatype":"FP32",
           "parameters":{"shared_memory_region":"%s","shared_memory_byte_size":%d}}],
         "outputs":[{"name":"probabilities","parameters":{"shared_memory_region":"small",
           "shared_memory_byte_size":8}}]}""";
    long[] before = fraudCounts();
    HttpResponse<byte[]> tooSmall =
        server.post(inferPath("fraud_classifier"), fraud.formatted("in", 64));
    assertThat(tooSmall.statusCode()).isEqualTo(400);
    assertThat(error(tooSmall))
        .isEqualTo(
            "shared memory size specified with the request for output 'probabilities' (8 bytes)"
                + " should be at least 16 bytes to hold the results");
    // The same over gRPC: INVALID_ARGUMENT. Both ran the model, and both count as failed.
    assertThatThrownBy(
            () ->
                stub.modelInfer(
                    ModelInferRequest.newBuilder()
                        .setModelName("fraud_classifier")
                        .addInputs(
                            ModelInferRequest.InferInputTensor.newBuilder()
                                .setName("features")
                                .setDatatype("FP32")
                                .addShape(2)
                                .addShape(8)
                                .putParameters("shared_memory_region", string("in"))
                                .putParameters("shared_memory_byte_size", int64(64)))
                        .addOutputs(
                            ModelInferRequest.InferRequestedOutputTensor.newBuilder()
                                .setName("probabilities")
                                .putParameters("shared_memory_region", string("small"))
                                .putParameters("shared_memory_byte_size", int64(8)))
                        .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription())
                  .contains("should be at least 16 bytes to hold the results");
            });
    long[] after = fraudCounts();
    assertThat(after[0]).as("successes").isEqualTo(before[0]);
    assertThat(after[1]).as("failures").isEqualTo(before[1] + 2);
    HttpResponse<byte[]> wrongSize =
        server.post(inferPath("fraud_classifier"), fraud.formatted("in", 60));
    assertThat(wrongSize.statusCode()).isEqualTo(400);
    assertThat(error(wrongSize))
        .contains(
            "input 'features': shared_memory_byte_size is 60 but shape [2, 8] of FP32 needs 64");
    HttpResponse<byte[]> unknown =
        server.post(inferPath("fraud_classifier"), fraud.formatted("nope", 64));
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(error(unknown)).isEqualTo("Unable to find shared memory region: 'nope'");
    HttpResponse<byte[]> both =
        server.post(
            inferPath("fraud_classifier"),
            """
            {"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32","data":[1,2,3,4,5,6,7,8],
               "parameters":{"shared_memory_region":"in","shared_memory_byte_size":32}}]}""");
    assertThat(both.statusCode()).isEqualTo(400);
    assertThat(error(both)).contains("Input must set only one of the following fields");

    // CUDA shared memory: Triton without GPUs, which tritonclient callers see as such.
    assertThat(text(server.get("/v2/cudasharedmemory/status"))).isEqualTo("[]");
    assertThat(server.post("/v2/cudasharedmemory/unregister", "").statusCode()).isEqualTo(200);
    HttpResponse<byte[]> cuda =
        server.post(
            "/v2/cudasharedmemory/region/g0/register",
            "{\"raw_handle\":{\"b64\":\"AAAA\"},\"device_id\":0,\"byte_size\":64}");
    assertThat(cuda.statusCode()).isEqualTo(400);
    assertThat(error(cuda))
        .contains("failed to register CUDA shared memory region: 'g0', GPUs not supported");
  }

  @Test
  void batchedRequestsEachGetTheirOwnRowsInTheirOwnRanges() throws Exception {
    int n = 24;
    String in = object("batch_in", n * 32);
    String out = object("batch_out", n * 8);
    ByteBuffer all = ByteBuffer.allocate(n * 32).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      // Alternating a fraud-like and a legit-like transaction.
      for (int f = 0; f < 8; f++) {
        all.putFloat(FEATURES[(i % 2) * 8 + f]);
      }
    }
    put(in, 0, all.flip());
    assertThat(register("in", in, 0, n * 32).statusCode()).isEqualTo(200);
    assertThat(register("out", out, 0, n * 8).statusCode()).isEqualTo(200);
    List<CompletableFuture<HttpResponse<byte[]>>> answers = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      answers.add(
          server.sendAsync(
              server.jsonRequest(
                  inferPath("fraud_classifier"),
                  """
                  {"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32",
                     "parameters":{"shared_memory_region":"in","shared_memory_byte_size":32,
                       "shared_memory_offset":%d}}],
                   "outputs":[{"name":"label","parameters":{"shared_memory_region":"out",
                     "shared_memory_byte_size":8,"shared_memory_offset":%d}}]}"""
                      .formatted(i * 32, i * 8))));
    }
    for (CompletableFuture<HttpResponse<byte[]>> a : answers) {
      assertThat(a.get().statusCode()).as(text(a.get())).isEqualTo(200);
    }
    JsonNode plain = plainFraud().get("outputs").get(1).get("data");
    ByteBuffer labels = get(out, 0, n * 8);
    for (int i = 0; i < n; i++) {
      assertThat(labels.getLong(i * 8)).as("request %d", i).isEqualTo(plain.get(i % 2).asLong());
    }
  }

  private static InferParameter string(String s) {
    return InferParameter.newBuilder().setStringParam(s).build();
  }

  private static InferParameter int64(long v) {
    return InferParameter.newBuilder().setInt64Param(v).build();
  }
}
