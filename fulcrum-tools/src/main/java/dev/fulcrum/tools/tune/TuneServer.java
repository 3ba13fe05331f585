package dev.fulcrum.tools.tune;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.HttpServer;
import dev.fulcrum.server.HttpServerConfig;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.tools.serve.ServeCommand;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The one server a sweep measures, in this process: the same pieces {@code fulcrum serve} wires
 * (its runtimes, {@link ServeCommand#runtimes}: ONNX Runtime and the text pipelines; its
 * configuration reader; the repository in explicit model-control mode; REST and optionally gRPC on
 * ephemeral loopback ports), with nothing loaded until the sweep loads its model. Built and closed
 * by the tune command's thread; requests run on the server's own threads.
 *
 * <p>In process rather than a child process: no launcher, class path or native-library flags to
 * reproduce, one JIT warm-up for the whole sweep, and the server is torn down with the command. The
 * client's load shares the process (as it shares the machine either way); each trial's
 * configuration still goes through the repository API, as it would to a separate server.
 */
final class TuneServer implements AutoCloseable {
  private final OnnxRuntimeBackend onnx;
  private final SchedulerEnvironment environment;
  private final ModelRepository repository;
  private final HttpServer http;
  private final @Nullable GrpcServer grpc;

  private TuneServer(
      OnnxRuntimeBackend onnx,
      SchedulerEnvironment environment,
      ModelRepository repository,
      HttpServer http,
      @Nullable GrpcServer grpc) {
    this.onnx = onnx;
    this.environment = environment;
    this.repository = repository;
    this.http = http;
    this.grpc = grpc;
  }

  /** The configuration reader {@code serve} uses: config.yaml, else Triton's config.pbtxt. */
  static ModelConfigLoader configLoader() {
    return ServeCommand.configLoader();
  }

  static TuneServer start(Path repositoryDir, boolean withGrpc) throws Exception {
    OnnxRuntimeBackend onnx = new OnnxRuntimeBackend();
    SchedulerEnvironment environment = SchedulerEnvironment.system();
    ModelRepository repository =
        new ModelRepository(
            List.of(repositoryDir),
            ServeCommand.runtimes(onnx),
            new ModelConfigResolver(Runtime.getRuntime().availableProcessors(), 32),
            environment,
            new ModelRepository.Settings(
                ControlMode.EXPLICIT, 1, List.of(), Duration.ofSeconds(15)),
            configLoader());
    HttpServer http = null;
    try {
      repository.loadAll();
      InferenceService service = new InferenceService(repository, false);
      http = new HttpServer(service, HttpServerConfig.ephemeral()).start();
      GrpcServer grpc =
          withGrpc ? new GrpcServer(service, GrpcServerConfig.ephemeral()).start() : null;
      return new TuneServer(onnx, environment, repository, http, grpc);
    } catch (Exception | Error e) {
      if (http != null) {
        http.close();
      }
      repository.close();
      environment.close();
      onnx.close();
      throw e;
    }
  }

  /**
   * Why the server found, when the serving version of {@code model} loaded, that its dynamic first
   * dimension is not a batch (so it joins no requests: {@link ModelVersion#notABatch}); null when
   * it found no such thing, did not check, or the model is not loaded.
   */
  @Nullable String notABatch(String model) {
    List<ModelVersion> versions = repository.versions(model);
    return versions.isEmpty() ? null : versions.get(0).notABatch();
  }

  /** The REST base URL, {@code http://127.0.0.1:<port>/}. */
  URI restBase() {
    return URI.create("http://127.0.0.1:" + http.port() + "/");
  }

  /** The gRPC target {@code 127.0.0.1:<port>}; only when started with gRPC. */
  String grpcTarget() {
    if (grpc == null) {
      throw new IllegalStateException("started without gRPC");
    }
    return "127.0.0.1:" + grpc.port();
  }

  @Override
  public void close() {
    if (grpc != null) {
      grpc.close();
    }
    http.close();
    repository.close();
    environment.close();
    onnx.close();
  }
}
