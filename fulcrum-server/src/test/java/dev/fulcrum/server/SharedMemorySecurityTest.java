package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryRegisterRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryStatusRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryUnregisterRequest;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import dev.fulcrum.server.security.Security;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
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
  private static InferenceService service;
  private static HttpServer http;
  private static GrpcServer grpc;
  private static ManagedChannel channel;
  private static final HttpClient CLIENT =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void start() throws Exception {
    service = TestModels.service(repo);
    Security security =
        new Security(
            new AccessPolicy(
                List.of(
                    new AccessPolicy.Token(Scope.INFERENCE, INFERENCE),
                    new AccessPolicy.Token(Scope.MANAGEMENT, MANAGEMENT)),
                "127.0.0.1",
                false),
            Optional.empty());
    SharedMemoryRegistry registry = new SharedMemoryRegistry(shm, true);
    http =
        new HttpServer(service, HttpServerConfig.ephemeral().withSecurity(security))
            .sharedMemory(registry)
            .start();
    grpc =
        new GrpcServer(service, GrpcServerConfig.ephemeral().withSecurity(security))
            .sharedMemory(registry)
            .start();
    channel = GrpcServerTest.channel(grpc.port());
    ByteBuffer four = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 1; i <= 4; i++) {
      four.putFloat(i);
    }
    try (RandomAccessFile f = new RandomAccessFile(shm.resolve("obj").toFile(), "rw")) {
      f.setLength(64);
      f.getChannel().write(four.flip(), 0);
    }
  }

  @AfterAll
  static void stop() {
    channel.shutdownNow();
    grpc.close();
    http.close();
    CLIENT.close();
    service.repository().close();
  }

  private static HttpResponse<String> post(String path, String body, String token)
      throws Exception {
    return CLIENT.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + path))
            .header("Authorization", "Bearer " + token)
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> get(String path, String token) throws Exception {
    return CLIENT.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + path))
            .header("Authorization", "Bearer " + token)
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub(String token) {
    Metadata headers = new Metadata();
    headers.put(
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return GRPCInferenceServiceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
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
