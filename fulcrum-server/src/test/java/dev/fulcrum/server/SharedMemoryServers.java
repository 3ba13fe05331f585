package dev.fulcrum.server;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Security;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The test models behind tokens on a REST and a gRPC port that share one shared memory registry (a
 * region registered over one is usable over the other), with a plaintext channel to the gRPC port:
 * the shared memory security and tenant tests' server. Closing it closes the channel, both ports
 * and the repository.
 *
 * <p>Threads: made and closed by one test class's setup and teardown; its ports serve any thread.
 */
final class SharedMemoryServers implements AutoCloseable {
  final InferenceService service;
  final HttpServer http;
  final GrpcServer grpc;
  final ManagedChannel channel;
  private final HttpClient client =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private SharedMemoryServers(
      InferenceService service, HttpServer http, GrpcServer grpc, ManagedChannel channel) {
    this.service = service;
    this.http = http;
    this.grpc = grpc;
    this.channel = channel;
  }

  /** Serves the test models of {@code repo} with {@code tokens}, regions from {@code registry}. */
  static SharedMemoryServers start(
      Path repo, SharedMemoryRegistry registry, List<AccessPolicy.Token> tokens) throws Exception {
    InferenceService service = TestModels.service(repo);
    Security security =
        new Security(new AccessPolicy(tokens, "127.0.0.1", false), Optional.empty());
    HttpServer http =
        new HttpServer(service, HttpServerConfig.ephemeral().withSecurity(security))
            .sharedMemory(registry)
            .start();
    GrpcServer grpc =
        new GrpcServer(service, GrpcServerConfig.ephemeral().withSecurity(security))
            .sharedMemory(registry)
            .start();
    return new SharedMemoryServers(service, http, grpc, GrpcServerTest.channel(grpc.port()));
  }

  /**
   * Creates the shared memory object {@code shm/name} of {@code size} bytes, its first {@code
   * floats} little-endian floats {@code first}, {@code first + 1}, ... and zeros after them.
   */
  static void object(Path shm, String name, int size, int first, int floats) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(floats * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < floats; i++) {
      b.putFloat(first + i);
    }
    try (RandomAccessFile f = new RandomAccessFile(shm.resolve(name).toFile(), "rw")) {
      f.setLength(size);
      f.getChannel().write(b.flip(), 0);
    }
  }

  /** POSTs {@code body} to the REST port's {@code path} with {@code token}. */
  HttpResponse<String> post(String path, String body, String token) throws Exception {
    return client.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + path))
            .header("Authorization", "Bearer " + token)
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** GETs the REST port's {@code path} with {@code token}. */
  HttpResponse<String> get(String path, String token) throws Exception {
    return client.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + path))
            .header("Authorization", "Bearer " + token)
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** A stub of the gRPC port that sends {@code token}. */
  GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub(String token) {
    Metadata headers = new Metadata();
    headers.put(
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return GRPCInferenceServiceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  @Override
  public void close() {
    client.close();
    channel.shutdownNow();
    grpc.close();
    http.close();
    service.repository().close();
  }
}
