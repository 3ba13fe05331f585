package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.RepositoryIndexRequest;
import dev.fulcrum.server.grpc.proto.ServerLiveRequest;
import dev.fulcrum.server.grpc.proto.ServerMetadataRequest;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import dev.fulcrum.server.security.Security;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.MetadataUtils;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bearer tokens, one suite over both transports: each case runs over REST and gRPC against servers
 * sharing one {@link InferenceService}, so that the two answer the same request the same way.
 */
class SecurityContractTest {
  static final String INFERENCE = "inference-token-0123456789abcdef";
  static final String MANAGEMENT = "management-token-0123456789abcdef";

  /** The kinds of endpoint, by the scope they need. */
  enum Kind {
    HEALTH,
    INFERENCE,
    MANAGEMENT
  }

  /** What a client sees, in transport-neutral words. */
  enum Answer {
    OK,
    UNAUTHENTICATED,
    FORBIDDEN
  }

  record Result(Answer answer, String message) {}

  interface Client {
    Result call(Kind kind, String token) throws Exception;
  }

  /** REST: GET /v2/health/live, GET /v2, POST /v2/repository/index. */
  record Rest(HttpClient http, int port) implements Client {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public Result call(Kind kind, String token) throws Exception {
      String base = "http://127.0.0.1:" + port;
      HttpRequest.Builder b =
          switch (kind) {
            case HEALTH -> HttpRequest.newBuilder(URI.create(base + "/v2/health/live")).GET();
            case INFERENCE -> HttpRequest.newBuilder(URI.create(base + "/v2")).GET();
            case MANAGEMENT ->
                HttpRequest.newBuilder(URI.create(base + "/v2/repository/index"))
                    .POST(HttpRequest.BodyPublishers.ofString("{}"));
          };
      if (token != null) {
        b.header("Authorization", "Bearer " + token);
      }
      HttpResponse<String> r =
          http.send(
              b.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
      return switch (r.statusCode()) {
        case 200 -> new Result(Answer.OK, "");
        case 401 -> {
          assertThat(r.headers().firstValue("WWW-Authenticate"))
              .hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
          yield new Result(Answer.UNAUTHENTICATED, JSON.readTree(r.body()).get("error").asText());
        }
        case 403 -> new Result(Answer.FORBIDDEN, JSON.readTree(r.body()).get("error").asText());
        default -> throw new AssertionError("unexpected " + r.statusCode() + ": " + r.body());
      };
    }

    @Override
    public String toString() {
      return "REST";
    }
  }

  /** gRPC: ServerLive (and grpc.health.v1), ServerMetadata, RepositoryIndex. */
  record Grpc(ManagedChannel channel) implements Client {
    @Override
    public Result call(Kind kind, String token) {
      Metadata headers = new Metadata();
      if (token != null) {
        headers.put(
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
      }
      var stub =
          GRPCInferenceServiceGrpc.newBlockingStub(channel)
              .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
              .withDeadlineAfter(30, TimeUnit.SECONDS);
      try {
        switch (kind) {
          case HEALTH -> {
            stub.serverLive(ServerLiveRequest.getDefaultInstance());
            HealthGrpc.newBlockingStub(channel)
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .check(HealthCheckRequest.getDefaultInstance());
          }
          case INFERENCE -> stub.serverMetadata(ServerMetadataRequest.getDefaultInstance());
          case MANAGEMENT -> stub.repositoryIndex(RepositoryIndexRequest.getDefaultInstance());
        }
        return new Result(Answer.OK, "");
      } catch (StatusRuntimeException e) {
        Answer a =
            switch (e.getStatus().getCode()) {
              case UNAUTHENTICATED -> Answer.UNAUTHENTICATED;
              case PERMISSION_DENIED -> Answer.FORBIDDEN;
              default -> throw e;
            };
        return new Result(a, e.getStatus().getDescription());
      }
    }

    @Override
    public String toString() {
      return "gRPC";
    }
  }

  /** One REST and one gRPC server on the shared service, with one security setting. */
  record Servers(HttpServer http, GrpcServer grpc, List<Client> clients) implements AutoCloseable {
    static Servers start(Security security) throws Exception {
      HttpServer http =
          new HttpServer(service, HttpServerConfig.ephemeral().withSecurity(security)).start();
      GrpcServer grpc =
          new GrpcServer(service, GrpcServerConfig.ephemeral().withSecurity(security)).start();
      return new Servers(
          http,
          grpc,
          List.of(new Rest(HTTP, http.port()), new Grpc(GrpcServerTest.channel(grpc.port()))));
    }

    @Override
    public void close() {
      ((Grpc) clients.get(1)).channel().shutdownNow();
      grpc.close();
      http.close();
    }
  }

  static final HttpClient HTTP =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @TempDir static Path repo;
  private static InferenceService service;
  private static Servers tokens;
  private static Servers noManagementToken;
  private static Servers beyondLoopback;

  @BeforeAll
  static void start() throws Exception {
    service = TestModels.service(repo);
    tokens =
        Servers.start(
            security(
                List.of(
                    new AccessPolicy.Token(Scope.INFERENCE, INFERENCE),
                    new AccessPolicy.Token(Scope.MANAGEMENT, MANAGEMENT)),
                false));
    noManagementToken =
        Servers.start(security(List.of(new AccessPolicy.Token(Scope.INFERENCE, INFERENCE)), false));
    // Bound to loopback (tests reach only loopback) with the policy of a server bound beyond it.
    beyondLoopback = Servers.start(security(List.of(), true));
  }

  private static Security security(List<AccessPolicy.Token> t, boolean beyond) {
    return new Security(
        new AccessPolicy(t, beyond ? "0.0.0.0" : "127.0.0.1", beyond), Optional.empty());
  }

  @AfterAll
  static void stop() {
    Stream.of(tokens, noManagementToken, beyondLoopback).forEach(Servers::close);
    HTTP.close();
    service.repository().close();
  }

  static Stream<Integer> transports() {
    return Stream.of(0, 1);
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("transports")
  void noTokenIsUnauthenticated(int c) throws Exception {
    Client client = tokens.clients().get(c);
    Result r = client.call(Kind.INFERENCE, null);
    assertThat(r.answer()).as("%s", client).isEqualTo(Answer.UNAUTHENTICATED);
    assertThat(r.message()).contains("Authorization: Bearer");
    assertThat(client.call(Kind.MANAGEMENT, null).answer()).isEqualTo(Answer.UNAUTHENTICATED);
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("transports")
  void unknownTokenIsUnauthenticated(int c) throws Exception {
    Client client = tokens.clients().get(c);
    assertThat(client.call(Kind.INFERENCE, INFERENCE + "x").answer())
        .isEqualTo(Answer.UNAUTHENTICATED);
    assertThat(client.call(Kind.MANAGEMENT, "nope").answer()).isEqualTo(Answer.UNAUTHENTICATED);
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("transports")
  void inferenceTokenGrantsInferenceOnly(int c) throws Exception {
    Client client = tokens.clients().get(c);
    assertThat(client.call(Kind.INFERENCE, INFERENCE).answer()).isEqualTo(Answer.OK);
    Result r = client.call(Kind.MANAGEMENT, INFERENCE);
    assertThat(r.answer()).isEqualTo(Answer.FORBIDDEN);
    assertThat(r.message()).contains("management token");
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("transports")
  void managementTokenGrantsBoth(int c) throws Exception {
    Client client = tokens.clients().get(c);
    assertThat(client.call(Kind.INFERENCE, MANAGEMENT).answer()).isEqualTo(Answer.OK);
    assertThat(client.call(Kind.MANAGEMENT, MANAGEMENT).answer()).isEqualTo(Answer.OK);
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("transports")
  void healthIsOpen(int c) throws Exception {
    for (Servers s : List.of(tokens, noManagementToken, beyondLoopback)) {
      assertThat(s.clients().get(c).call(Kind.HEALTH, null).answer()).isEqualTo(Answer.OK);
      assertThat(s.clients().get(c).call(Kind.HEALTH, "wrong").answer()).isEqualTo(Answer.OK);
    }
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("transports")
  void beyondLoopbackWithoutManagementTokenRefusesTheRepositoryApi(int c) throws Exception {
    Client client = beyondLoopback.clients().get(c);
    Result r = client.call(Kind.MANAGEMENT, null);
    assertThat(r.answer()).isEqualTo(Answer.FORBIDDEN);
    assertThat(r.message())
        .contains("binds beyond loopback")
        .contains("--host 0.0.0.0")
        .contains("FULCRUM_MANAGEMENT_TOKEN");
    // No inference token: inference stays open.
    assertThat(client.call(Kind.INFERENCE, null).answer()).isEqualTo(Answer.OK);
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("transports")
  void tokensWithoutManagementScopeDisableTheRepositoryApi(int c) throws Exception {
    Client client = noManagementToken.clients().get(c);
    Result r = client.call(Kind.MANAGEMENT, INFERENCE);
    assertThat(r.answer()).isEqualTo(Answer.FORBIDDEN);
    assertThat(r.message()).contains("none with the management scope");
    assertThat(client.call(Kind.INFERENCE, INFERENCE).answer()).isEqualTo(Answer.OK);
  }

  /**
   * A 10 MB body is announced and never sent: the answer cannot wait for it. The same with {@code
   * Upgrade: h2c} (curl --http2 sends its first request so): Netty's upgrade handler would read the
   * whole body before the token is checked, so a request with a body is not upgraded.
   */
  @ParameterizedTest(name = "extra headers: [{0}]")
  @ValueSource(
      strings = {
        "",
        "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"
      })
  void restRefusesAtTheRequestHeadBeforeTheBodyArrives(String upgrade) throws Exception {
    try (Socket socket = new Socket("127.0.0.1", tokens.http().port())) {
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      out.write(
          ("POST /v2/models/m/infer HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n"
                  + upgrade
                  + "Content-Type: application/json\r\n\r\n{")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      BufferedReader in =
          new BufferedReader(
              new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
      assertThat(in.readLine()).startsWith("HTTP/1.1 401");
    }
    assertThat(tokens.http().bufferedBytes()).isZero();
  }

  @org.junit.jupiter.api.RepeatedTest(10) // the reset race showed in 1 of 20 runs
  void restOverHttp2IsCheckedToo() throws Exception {
    try (HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build()) {
      Rest rest = new Rest(h2, tokens.http().port());
      for (int i = 0; i < 2; i++) { // the first goes by Upgrade: h2c, the second on stream 3
        assertThat(rest.call(Kind.INFERENCE, null).answer()).isEqualTo(Answer.UNAUTHENTICATED);
        assertThat(rest.call(Kind.MANAGEMENT, INFERENCE).answer()).isEqualTo(Answer.FORBIDDEN);
        assertThat(rest.call(Kind.MANAGEMENT, MANAGEMENT).answer()).isEqualTo(Answer.OK);
      }
    }
  }
}
