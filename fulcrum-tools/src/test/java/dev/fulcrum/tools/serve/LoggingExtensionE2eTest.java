package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.LogSettingsRequest;
import dev.fulcrum.server.grpc.proto.LogSettingsResponse;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status.Code;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The on-call engineer's case: a running {@code fulcrum serve} (a process of its own, its log on
 * standard error as in production) is switched to DEBUG and back through Triton's logging
 * extension, over REST and over gRPC, without a restart; its log shows each refused request as a
 * DEBUG line only while the verbose level is 1.
 */
class LoggingExtensionE2eTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String DEBUG_LINE = "DEBUG InferenceGrpcService - request refused";
  private static final String HTTP_DEBUG_LINE = "DEBUG HttpDispatcher";

  @TempDir Path repo;
  private Process server;
  private final HttpClient http = HttpClient.newHttpClient();

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.destroy();
      if (!server.waitFor(60, TimeUnit.SECONDS)) {
        server.destroyForcibly().waitFor();
      }
    }
  }

  private HttpResponse<String> send(int port, String method, String path, String body)
      throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(30))
            .method(method, HttpRequest.BodyPublishers.ofString(body))
            .header("Content-Type", "application/json")
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static long count(Path log, String text) throws Exception {
    return Files.readAllLines(log, StandardCharsets.UTF_8).stream()
        .filter(l -> l.contains(text))
        .count();
  }

  @Test
  void theVerboseLevelChangesWhatTheRunningServerWritesOverRestAndGrpc() throws Exception {
    Path log = repo.resolveSibling(repo.getFileName() + "-serve.log");
    server =
        new ProcessBuilder(ServeProcess.command(repo))
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    int httpPort = ServeProcess.port(log, ServeProcess.HTTP_PORT);
    int grpcPort = ServeProcess.port(log, ServeProcess.GRPC_PORT);
    String infer =
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}";

    JsonNode start = JSON.readTree(send(httpPort, "GET", "/v2/logging", "").body());
    assertThat(start.toString())
        .isEqualTo(
            "{\"log_file\":\"\",\"log_info\":true,\"log_warning\":true,\"log_error\":true,"
                + "\"log_verbose_level\":0,\"log_format\":\"default\"}");
    assertThat(send(httpPort, "POST", "/v2/models/nope/infer", infer).statusCode()).isEqualTo(404);

    // REST: verbose 1, and each refused request is a DEBUG line of the running server.
    HttpResponse<String> on = send(httpPort, "POST", "/v2/logging", "{\"log_verbose_level\":1}");
    assertThat(on.statusCode()).as(on.body()).isEqualTo(200);
    assertThat(JSON.readTree(on.body()).get("log_verbose_level").asInt()).isEqualTo(1);
    for (int i = 0; i < 3; i++) {
      assertThat(send(httpPort, "POST", "/v2/models/nope/infer", infer).statusCode())
          .isEqualTo(404);
    }
    awaitCount(log, HTTP_DEBUG_LINE + " - request refused (NOT_FOUND)", 3);

    ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
    try {
      var stub =
          GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
      ModelInferRequest nope = ModelInferRequest.newBuilder().setModelName("nope").build();
      refused(stub, nope);
      awaitCount(log, DEBUG_LINE, 1);

      // gRPC: back to 0, and a refused request writes no DEBUG line any more.
      LogSettingsResponse off =
          stub.logSettings(
              LogSettingsRequest.newBuilder()
                  .putSettings(
                      "log_verbose_level",
                      LogSettingsRequest.SettingValue.newBuilder().setUint32Param(0).build())
                  .build());
      assertThat(off.getSettingsOrThrow("log_verbose_level").getUint32Param()).isZero();
      assertThat(off.getSettingsOrThrow("log_info").getBoolParam()).isTrue();
      refused(stub, nope);
      assertThat(send(httpPort, "POST", "/v2/models/nope/infer", infer).statusCode())
          .isEqualTo(404);
      Thread.sleep(500); // a line would be written before the answer; this is margin only
      assertThat(count(log, DEBUG_LINE)).isEqualTo(1);
      assertThat(count(log, HTTP_DEBUG_LINE + " - request refused")).isEqualTo(3);
      assertThat(
              stub.logSettings(LogSettingsRequest.getDefaultInstance())
                  .getSettingsOrThrow("log_verbose_level")
                  .getUint32Param())
          .isZero();
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }

    HttpResponse<String> file = send(httpPort, "POST", "/v2/logging", "{\"log_file\":\"/tmp/x\"}");
    assertThat(file.statusCode()).isEqualTo(400);
    assertThat(file.body()).contains("log_file cannot be changed on a running server");
  }

  private static void refused(
      GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub, ModelInferRequest r) {
    try {
      stub.modelInfer(r);
      throw new AssertionError("an unknown model answered");
    } catch (StatusRuntimeException expected) {
      assertThat(expected.getStatus().getCode()).as(expected.toString()).isEqualTo(Code.NOT_FOUND);
    }
  }

  private static void awaitCount(Path log, String text, long n) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (count(log, text) < n && System.nanoTime() < end) {
      Thread.sleep(50);
    }
    assertThat(count(log, text)).as(Files.readString(log)).isEqualTo(n);
  }
}
