package dev.fulcrum.tools.bench;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.HttpServer;
import dev.fulcrum.server.HttpServerConfig;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.security.Security;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The server {@code fulcrum bench}'s tests run against: a repository of the committed demo's fraud
 * classifier alone, on ONNX Runtime, served over HTTP and gRPC on ephemeral loopback ports; {@link
 * #close} stops both ports, then the repository, then ONNX Runtime. Started and closed by one test
 * class's {@code @BeforeAll} and {@code @AutoClose}; its parts are thread-safe.
 */
final class BenchServer implements AutoCloseable {
  /** The committed demo model it serves. */
  static final Path DEMO = Path.of("../demo/models/fraud_classifier");

  private final OnnxRuntimeBackend onnx;
  private final ModelRepository repository;
  final HttpServer http;
  final GrpcServer grpc;

  private BenchServer(
      OnnxRuntimeBackend onnx, ModelRepository repository, HttpServer http, GrpcServer grpc) {
    this.onnx = onnx;
    this.repository = repository;
    this.http = http;
    this.grpc = grpc;
  }

  /**
   * Starts one with {@code security} on both ports, its repository (a link to the demo model) in
   * {@code tmp}; what started is closed again if a later part fails.
   */
  static BenchServer start(Path tmp, Security security) throws Exception {
    Path repo = Files.createDirectories(tmp.resolve("repo"));
    Files.createSymbolicLink(repo.resolve("fraud_classifier"), DEMO.toAbsolutePath());
    OnnxRuntimeBackend onnx = new OnnxRuntimeBackend();
    ModelRepository repository =
        new ModelRepository(List.of(repo), List.of(onnx), new ModelConfigResolver(2, 32));
    @Nullable HttpServer http = null;
    try {
      repository.loadAll();
      InferenceService service = new InferenceService(repository, true);
      http = new HttpServer(service, HttpServerConfig.ephemeral().withSecurity(security)).start();
      GrpcServer grpc =
          new GrpcServer(service, GrpcServerConfig.ephemeral().withSecurity(security)).start();
      return new BenchServer(onnx, repository, http, grpc);
    } catch (Exception e) {
      if (http != null) {
        http.close();
      }
      repository.close();
      onnx.close();
      throw e;
    }
  }

  @Override
  public void close() {
    grpc.close();
    http.close();
    repository.close();
    onnx.close();
  }
}
