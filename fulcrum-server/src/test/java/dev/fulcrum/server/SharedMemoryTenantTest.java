package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.fulcrum.core.tenant.TenantLimits;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferParameter;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryRegisterRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryStatusRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryUnregisterRequest;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * System shared memory on a server shared by tenants, over real sockets (REST and gRPC on one
 * registry): each tenant registers, lists, unregisters and uses its own regions only, another
 * tenant's region answers as one not registered, two tenants' regions of one name do not collide,
 * and a key another tenant's regions map answers as a key that does not exist. Also what the client
 * and the statistics see of an output region too small, and the bound on what a request's inputs
 * may take from regions together.
 */
class SharedMemoryTenantTest {
  static final String A_INFER = "tenant-a-inference-0123456789abcdef";
  static final String A_MANAGE = "tenant-a-management-0123456789abcdef";
  static final String B_INFER = "tenant-b-inference-0123456789abcdef";
  static final String B_MANAGE = "tenant-b-management-0123456789abcdef";

  /** What one request may take from regions in all (the registry's maxInputBytes). */
  static final int MAX_INPUT = 100;

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path repo;
  @TempDir static Path shm;
  private static SharedMemoryServers servers;

  @BeforeAll
  static void start() throws Exception {
    servers =
        SharedMemoryServers.start(
            repo,
            new SharedMemoryRegistry(shm, true, MAX_INPUT),
            List.of(
                new AccessPolicy.Token(Scope.INFERENCE, A_INFER, "a", TenantLimits.NONE),
                new AccessPolicy.Token(Scope.MANAGEMENT, A_MANAGE, "a", TenantLimits.NONE),
                new AccessPolicy.Token(Scope.INFERENCE, B_INFER, "b", TenantLimits.NONE),
                new AccessPolicy.Token(Scope.MANAGEMENT, B_MANAGE, "b", TenantLimits.NONE)));
    object("a_obj", 1, 64);
    object("b_obj", 100, 64);
    object("big", 0, 256);
  }

  @AfterAll
  static void stop() {
    servers.close();
  }

  @AfterEach
  void unregisterEveryTenantsRegions() throws Exception {
    assertThat(post("/v2/systemsharedmemory/unregister", "", A_MANAGE).statusCode()).isEqualTo(200);
    assertThat(post("/v2/systemsharedmemory/unregister", "", B_MANAGE).statusCode()).isEqualTo(200);
  }

  /** Creates {@code shm/name} of {@code size} bytes holding the floats first, first + 1, ... */
  private static void object(String name, int first, int size) throws Exception {
    SharedMemoryServers.object(shm, name, size, first, size / 4);
  }

  private static float floatAt(String object, int offset) throws Exception {
    ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    try (FileChannel ch = FileChannel.open(shm.resolve(object), StandardOpenOption.READ)) {
      ch.read(b, offset);
    }
    return b.getFloat(0);
  }

  private static HttpResponse<String> post(String path, String body, String token)
      throws Exception {
    return servers.post(path, body, token);
  }

  private static HttpResponse<String> get(String path, String token) throws Exception {
    return servers.get(path, token);
  }

  private static HttpResponse<String> register(String region, String key, int size, String token)
      throws Exception {
    return post(
        "/v2/systemsharedmemory/region/" + region + "/register",
        "{\"key\":\"%s\",\"byte_size\":%d}".formatted(key, size),
        token);
  }

  private static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub(String token) {
    return servers.stub(token);
  }

  /** echo_fp32 with IN [1, 4] read from {@code in} and OUT written into {@code out} (or sent). */
  private static String echoBody(String in, String out, int outBytes) {
    String output =
        out.isEmpty()
            ? ""
            : """
              ,"outputs":[{"name":"OUT","parameters":{"shared_memory_region":"%s",
                "shared_memory_byte_size":%d}}]"""
                .formatted(out, outBytes);
    return """
        {"inputs":[{"name":"IN","shape":[1,4],"datatype":"FP32",
           "parameters":{"shared_memory_region":"%s","shared_memory_byte_size":16}}]%s}"""
        .formatted(in, output);
  }

  private static String error(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body()).get("error").asText();
  }

  private static ModelInferRequest grpcEcho(String in, String out, int outBytes) {
    ModelInferRequest.Builder b =
        ModelInferRequest.newBuilder()
            .setModelName("echo_fp32")
            .addInputs(
                ModelInferRequest.InferInputTensor.newBuilder()
                    .setName("IN")
                    .setDatatype("FP32")
                    .addShape(1)
                    .addShape(4)
                    .putParameters("shared_memory_region", string(in))
                    .putParameters("shared_memory_byte_size", int64(16)));
    if (!out.isEmpty()) {
      b.addOutputs(
          ModelInferRequest.InferRequestedOutputTensor.newBuilder()
              .setName("OUT")
              .putParameters("shared_memory_region", string(out))
              .putParameters("shared_memory_byte_size", int64(outBytes)));
    }
    return b.build();
  }

  private static InferParameter string(String s) {
    return InferParameter.newBuilder().setStringParam(s).build();
  }

  private static InferParameter int64(long n) {
    return InferParameter.newBuilder().setInt64Param(n).build();
  }

  /** echo_fp32's {@code [success, fail]} counts in its statistics. */
  private static long[] echoCounts() throws Exception {
    HttpResponse<String> r = get("/v2/models/echo_fp32/stats", A_INFER);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode s = JSON.readTree(r.body()).get("model_stats").get(0).get("inference_stats");
    return new long[] {s.get("success").get("count").asLong(), s.get("fail").get("count").asLong()};
  }

  @Test
  void aTenantSeesUsesAndUnregistersItsOwnRegionsOnlyOverRest() throws Exception {
    assertThat(register("in", "/a_obj", 64, A_MANAGE).statusCode()).isEqualTo(200);

    // B lists none, and asking for A's region by name is B's 404 for a region never registered.
    assertThat(get("/v2/systemsharedmemory/status", B_INFER).body()).isEqualTo("[]");
    HttpResponse<String> status = get("/v2/systemsharedmemory/region/in/status", B_INFER);
    assertThat(status.statusCode()).isEqualTo(404);
    assertThat(error(status)).isEqualTo("Unable to find system shared memory region: 'in'");
    assertThat(get("/v2/systemsharedmemory/status", A_INFER).body()).contains("\"name\":\"in\"");

    // B cannot read A's region as an input, nor write into it as an output.
    HttpResponse<String> read = post("/v2/models/echo_fp32/infer", echoBody("in", "", 0), B_INFER);
    assertThat(read.statusCode()).isEqualTo(404);
    assertThat(error(read)).isEqualTo("Unable to find shared memory region: 'in'");
    assertThat(register("b_in", "/b_obj", 64, B_MANAGE).statusCode()).isEqualTo(200);
    HttpResponse<String> write =
        post("/v2/models/echo_fp32/infer", echoBody("b_in", "in", 16), B_INFER);
    assertThat(write.statusCode()).isEqualTo(404);
    assertThat(error(write)).isEqualTo("Unable to find shared memory region: 'in'");
    assertThat(floatAt("a_obj", 0)).isEqualTo(1f);

    // B's unregister of A's name, and of all its own, leaves A's region registered.
    assertThat(post("/v2/systemsharedmemory/region/in/unregister", "", B_MANAGE).statusCode())
        .isEqualTo(200);
    assertThat(post("/v2/systemsharedmemory/unregister", "", B_MANAGE).statusCode()).isEqualTo(200);
    HttpResponse<String> own = post("/v2/models/echo_fp32/infer", echoBody("in", "", 0), A_INFER);
    assertThat(own.statusCode()).as(own.body()).isEqualTo(200);
    assertThat(JSON.readTree(own.body()).get("outputs").get(0).get("data").toString())
        .isEqualTo("[1.0,2.0,3.0,4.0]");
  }

  @Test
  void twoTenantsRegionsOfOneNameDoNotCollide() throws Exception {
    assertThat(register("in", "/a_obj", 64, A_MANAGE).statusCode()).isEqualTo(200);
    assertThat(register("in", "/b_obj", 64, B_MANAGE).statusCode()).isEqualTo(200);
    // A name registered twice by one tenant is still refused.
    HttpResponse<String> twice = register("in", "/b_obj", 64, B_MANAGE);
    assertThat(twice.statusCode()).isEqualTo(400);
    assertThat(error(twice)).isEqualTo("shared memory region 'in' already in manager");

    HttpResponse<String> a = post("/v2/models/echo_fp32/infer", echoBody("in", "", 0), A_INFER);
    HttpResponse<String> b = post("/v2/models/echo_fp32/infer", echoBody("in", "", 0), B_INFER);
    assertThat(JSON.readTree(a.body()).get("outputs").get(0).get("data").toString())
        .isEqualTo("[1.0,2.0,3.0,4.0]");
    assertThat(JSON.readTree(b.body()).get("outputs").get(0).get("data").toString())
        .isEqualTo("[100.0,101.0,102.0,103.0]");
    // Over gRPC too: each tenant's status lists its own, and its request reads its own.
    assertThat(
            stub(B_INFER)
                .systemSharedMemoryStatus(SystemSharedMemoryStatusRequest.getDefaultInstance())
                .getRegionsMap()
                .get("in")
                .getKey())
        .isEqualTo("/b_obj");
    ModelInferResponse g = stub(B_INFER).modelInfer(grpcEcho("in", "", 0));
    assertThat(
            g.getRawOutputContents(0)
                .asReadOnlyByteBuffer()
                .order(ByteOrder.LITTLE_ENDIAN)
                .getFloat(0))
        .isEqualTo(100f);

    // A's unregister removes A's region only.
    assertThat(post("/v2/systemsharedmemory/region/in/unregister", "", A_MANAGE).statusCode())
        .isEqualTo(200);
    assertThat(post("/v2/models/echo_fp32/infer", echoBody("in", "", 0), A_INFER).statusCode())
        .isEqualTo(404);
    assertThat(post("/v2/models/echo_fp32/infer", echoBody("in", "", 0), B_INFER).statusCode())
        .isEqualTo(200);
  }

  @Test
  void anotherTenantsKeyIsAnsweredAsAKeyThatDoesNotExistOverRestAndGrpc() throws Exception {
    assertThat(register("in", "/a_obj", 64, A_MANAGE).statusCode()).isEqualTo(200);

    // B cannot map A's object under a name of its own (to read A's inputs or overwrite them), and
    // the answer is the one for a key that does not exist: nothing tells B the key is in use.
    HttpResponse<String> missing = register("mine", "/no_such_obj", 64, B_MANAGE);
    assertThat(missing.statusCode()).isEqualTo(400);
    assertThat(error(missing))
        .isEqualTo("Unable to open shared memory region: '/no_such_obj' (no such object)");
    for (String key : List.of("/a_obj", "a_obj")) {
      HttpResponse<String> taken = register("mine", key, 64, B_MANAGE);
      assertThat(taken.statusCode()).isEqualTo(missing.statusCode());
      assertThat(error(taken)).isEqualTo(error(missing).replace("/no_such_obj", key));
    }
    SystemSharedMemoryRegisterRequest.Builder overA =
        SystemSharedMemoryRegisterRequest.newBuilder().setName("mine").setByteSize(64);
    StatusRuntimeException grpcMissing =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () ->
                stub(B_MANAGE)
                    .systemSharedMemoryRegister(overA.clone().setKey("/no_such_obj").build()));
    StatusRuntimeException grpcTaken =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () ->
                stub(B_MANAGE).systemSharedMemoryRegister(overA.clone().setKey("/a_obj").build()));
    assertThat(grpcTaken.getStatus().getCode())
        .isEqualTo(grpcMissing.getStatus().getCode())
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(grpcTaken.getStatus().getDescription())
        .isEqualTo(grpcMissing.getStatus().getDescription().replace("/no_such_obj", "/a_obj"));
    assertThat(get("/v2/systemsharedmemory/status", B_INFER).body()).isEqualTo("[]");

    // A's tensors are intact and A still uses its region.
    assertThat(floatAt("a_obj", 0)).isEqualTo(1f);
    HttpResponse<String> own = post("/v2/models/echo_fp32/infer", echoBody("in", "", 0), A_INFER);
    assertThat(JSON.readTree(own.body()).get("outputs").get(0).get("data").toString())
        .isEqualTo("[1.0,2.0,3.0,4.0]");

    // Once A's regions no longer map it, the key is anyone's.
    assertThat(post("/v2/systemsharedmemory/region/in/unregister", "", A_MANAGE).statusCode())
        .isEqualTo(200);
    stub(B_MANAGE).systemSharedMemoryRegister(overA.clone().setKey("/a_obj").build());
    assertThat(get("/v2/systemsharedmemory/status", B_INFER).body()).contains("\"key\":\"/a_obj\"");
  }

  @Test
  void aTenantSeesUsesAndUnregistersItsOwnRegionsOnlyOverGrpc() throws Exception {
    stub(A_MANAGE)
        .systemSharedMemoryRegister(
            SystemSharedMemoryRegisterRequest.newBuilder()
                .setName("g")
                .setKey("/a_obj")
                .setByteSize(64)
                .build());
    assertThat(
            stub(B_INFER)
                .systemSharedMemoryStatus(SystemSharedMemoryStatusRequest.getDefaultInstance())
                .getRegionsMap())
        .isEmpty();
    assertThatThrownBy(
            () ->
                stub(B_INFER)
                    .systemSharedMemoryStatus(
                        SystemSharedMemoryStatusRequest.newBuilder().setName("g").build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    assertThatThrownBy(() -> stub(B_INFER).modelInfer(grpcEcho("g", "", 0)))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
              assertThat(e.getStatus().getDescription())
                  .isEqualTo("Unable to find shared memory region: 'g'");
            });
    stub(B_MANAGE)
        .systemSharedMemoryUnregister(SystemSharedMemoryUnregisterRequest.getDefaultInstance());
    stub(B_MANAGE)
        .systemSharedMemoryUnregister(
            SystemSharedMemoryUnregisterRequest.newBuilder().setName("g").build());
    // A's region survived B's unregisters, and A reads it over REST: one registry for both ports.
    HttpResponse<String> own = post("/v2/models/echo_fp32/infer", echoBody("g", "", 0), A_INFER);
    assertThat(own.statusCode()).as(own.body()).isEqualTo(200);
    ModelInferResponse g = stub(A_INFER).modelInfer(grpcEcho("g", "", 0));
    assertThat(g.getRawOutputContentsCount()).isEqualTo(1);
  }

  @Test
  void anOutputRegionTooSmallIsTheClientsErrorAndCountedAsAFailure() throws Exception {
    assertThat(register("in", "/a_obj", 64, A_MANAGE).statusCode()).isEqualTo(200);
    assertThat(register("out", "/big", 256, A_MANAGE).statusCode()).isEqualTo(200);
    long[] before = echoCounts();

    HttpResponse<String> rest =
        post("/v2/models/echo_fp32/infer", echoBody("in", "out", 8), A_INFER);
    assertThat(rest.statusCode()).isEqualTo(400);
    assertThat(error(rest))
        .isEqualTo(
            "shared memory size specified with the request for output 'OUT' (8 bytes) should be"
                + " at least 16 bytes to hold the results");
    assertThatThrownBy(() -> stub(A_INFER).modelInfer(grpcEcho("in", "out", 8)))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription()).contains("should be at least 16 bytes");
            });
    long[] failed = echoCounts();
    assertThat(failed[0]).as("successes").isEqualTo(before[0]);
    assertThat(failed[1]).as("failures").isEqualTo(before[1] + 2);

    // One that fits is written and counted as a success.
    HttpResponse<String> fits =
        post("/v2/models/echo_fp32/infer", echoBody("in", "out", 16), A_INFER);
    assertThat(fits.statusCode()).as(fits.body()).isEqualTo(200);
    assertThat(floatAt("big", 12)).isEqualTo(4f);
    assertThat(echoCounts()[0]).isEqualTo(before[0] + 1);
  }

  @Test
  void aRequestsInputsInRegionsAreBoundedTogetherBeforeTheyAreCopied() throws Exception {
    assertThat(register("big", "/big", 256, A_MANAGE).statusCode()).isEqualTo(200);
    // One input over the bound: 413 before anything is copied (the region is larger still).
    String one =
        """
        {"inputs":[{"name":"IN","shape":[1,32],"datatype":"FP32",
           "parameters":{"shared_memory_region":"big","shared_memory_byte_size":128}}]}""";
    HttpResponse<String> tooBig = post("/v2/models/echo_fp32/infer", one, A_INFER);
    assertThat(tooBig.statusCode()).isEqualTo(413);
    assertThat(error(tooBig)).contains("input 'IN'", "128 bytes", "100 bytes");

    // Two inputs of 64 bytes each: each under the bound, together over it.
    String two =
        """
        {"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32",
           "parameters":{"shared_memory_region":"big","shared_memory_byte_size":64}},
          {"name":"INPUT1","shape":[1,16],"datatype":"INT32",
           "parameters":{"shared_memory_region":"big","shared_memory_byte_size":64,
             "shared_memory_offset":64}}]}""";
    HttpResponse<String> together = post("/v2/models/simple/infer", two, A_INFER);
    assertThat(together.statusCode()).isEqualTo(413);
    assertThat(error(together))
        .contains("input 'INPUT1'", "64 bytes", "before it take 64", "100 bytes");
    ModelInferRequest.InferInputTensor.Builder input0 =
        ModelInferRequest.InferInputTensor.newBuilder()
            .setName("INPUT0")
            .setDatatype("INT32")
            .addShape(1)
            .addShape(16)
            .putParameters("shared_memory_region", string("big"))
            .putParameters("shared_memory_byte_size", int64(64));
    assertThatThrownBy(
            () ->
                stub(A_INFER)
                    .modelInfer(
                        ModelInferRequest.newBuilder()
                            .setModelName("simple")
                            .addInputs(input0)
                            .addInputs(
                                input0
                                    .clone()
                                    .setName("INPUT1")
                                    .putParameters("shared_memory_offset", int64(64)))
                            .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
              assertThat(e.getStatus().getDescription()).contains("input 'INPUT1'");
            });

    // One input in a region and one in the body: only the region's bytes count.
    ModelInferResponse mixed =
        stub(A_INFER)
            .modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName("simple")
                    .addInputs(input0)
                    .addInputs(
                        ModelInferRequest.InferInputTensor.newBuilder()
                            .setName("INPUT1")
                            .setDatatype("INT32")
                            .addShape(1)
                            .addShape(16))
                    .addRawInputContents(ByteString.copyFrom(new byte[64]))
                    .build());
    assertThat(mixed.getOutputsCount()).isEqualTo(2);
  }
}
