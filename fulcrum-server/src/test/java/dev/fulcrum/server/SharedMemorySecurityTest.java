package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryRegisterRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryStatusRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryUnregisterRequest;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who may use Triton's system shared memory extension once tokens are configured: registering and
 * unregistering make the server open and map files, so they need the management scope (as the
 * repository API); reading the status and using a registered region in a request need the inference
 * scope. Regions are server-wide (Triton's), whoever registered them.
 */
class SharedMemorySecurityTest {
  static final String INFERENCE = "inference-token-0123456789abcdef";
  static final String MANAGEMENT = "management-token-0123456789abcdef";
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path repo;
  @TempDir static Path shm;
  private static SharedMemoryServers servers;

  @BeforeAll
  static void start() throws Exception {
    servers =
        SharedMemoryServers.start(
            repo,
            new SharedMemoryRegistry(shm, true),
            List.of(
                new AccessPolicy.Token(Scope.INFERENCE, INFERENCE),
                new AccessPolicy.Token(Scope.MANAGEMENT, MANAGEMENT)));
    SharedMemoryServers.object(shm, "obj", 64, 1, 4);
  }

  @AfterAll
  static void stop() {
    servers.close();
  }

  private static HttpResponse<String> post(String path, String body, String token)
      throws Exception {
    return servers.post(path, body, token);
  }

  private static HttpResponse<String> get(String path, String token) throws Exception {
    return servers.get(path, token);
  }

  private static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub(String token) {
    return servers.stub(token);
  }

  @Test
  void registeringNeedsTheManagementScopeAndUsingARegionTheInferenceScope() throws Exception {
    String register = "{\"key\":\"/obj\",\"byte_size\":64}";
    HttpResponse<String> denied =
        post("/v2/systemsharedmemory/region/r/register", register, INFERENCE);
    assertThat(denied.statusCode()).isEqualTo(403);
    assertThat(denied.body()).contains("management token");
    assertThatThrownBy(
            () ->
                stub(INFERENCE)
                    .systemSharedMemoryRegister(
                        SystemSharedMemoryRegisterRequest.newBuilder()
                            .setName("r")
                            .setKey("/obj")
                            .setByteSize(64)
                            .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
    assertThat(Files.exists(shm.resolve("obj"))).isTrue();

    assertThat(post("/v2/systemsharedmemory/region/r/register", register, MANAGEMENT).statusCode())
        .isEqualTo(200);
    // The inference scope reads the status and uses the region, over both ports.
    assertThat(get("/v2/systemsharedmemory/status", INFERENCE).body()).contains("\"name\":\"r\"");
    assertThat(
            stub(INFERENCE)
                .systemSharedMemoryStatus(SystemSharedMemoryStatusRequest.getDefaultInstance())
                .getRegionsMap())
        .containsOnlyKeys("r");
    HttpResponse<String> r =
        post(
            "/v2/models/echo_fp32/infer",
            """
            {"inputs":[{"name":"IN","shape":[1,4],"datatype":"FP32",
               "parameters":{"shared_memory_region":"r","shared_memory_byte_size":16}}]}""",
            INFERENCE);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode out = JSON.readTree(r.body()).get("outputs").get(0).get("data");
    assertThat(out.toString()).isEqualTo("[1.0,2.0,3.0,4.0]");

    assertThat(post("/v2/systemsharedmemory/unregister", "", INFERENCE).statusCode())
        .isEqualTo(403);
    assertThatThrownBy(
            () ->
                stub(INFERENCE)
                    .systemSharedMemoryUnregister(
                        SystemSharedMemoryUnregisterRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
    stub(MANAGEMENT)
        .systemSharedMemoryUnregister(SystemSharedMemoryUnregisterRequest.getDefaultInstance());
    assertThat(get("/v2/systemsharedmemory/status", INFERENCE).body()).isEqualTo("[]");
  }
}
