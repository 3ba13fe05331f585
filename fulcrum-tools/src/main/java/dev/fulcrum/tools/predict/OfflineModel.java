package dev.fulcrum.tools.predict;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.repository.ModelVersionStatus;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.tools.serve.ServeCommand;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * One model of a repository loaded in process as {@code fulcrum serve} loads it (its runtimes, its
 * configuration formats and defaults, its model manager, scheduler and batcher; an ensemble with
 * its composing models), with the {@link InferenceService} the transports call: what it answers is
 * what the server answers. Thread-safe, as the service is.
 */
final class OfflineModel implements AutoCloseable {
  /** As serve's {@code --default-max-batch-size}. */
  private static final int DEFAULT_MAX_BATCH_SIZE = 32;

  private final OnnxRuntimeBackend onnx;
  private final SchedulerEnvironment environment;
  private final ModelRepository repository;
  private final InferenceService service;
  private final ModelVersion version;

  private OfflineModel(
      OnnxRuntimeBackend onnx,
      SchedulerEnvironment environment,
      ModelRepository repository,
      ModelVersion version) {
    this.onnx = onnx;
    this.environment = environment;
    this.repository = repository;
    this.service = new InferenceService(repository, true);
    this.version = version;
  }

  /**
   * Loads {@code model} of the repository at {@code root} (only it, and what it is composed of).
   *
   * @param version the version to use, {@code ""} for the one that serves
   * @throws IllegalArgumentException saying why it did not load or which versions are there
   */
  static OfflineModel open(Path root, String model, String version) {
    OnnxRuntimeBackend onnx = new OnnxRuntimeBackend();
    SchedulerEnvironment environment = SchedulerEnvironment.system();
    ModelRepository repo;
    try {
      repo =
          new ModelRepository(
              List.of(root),
              ServeCommand.runtimes(onnx),
              new ModelConfigResolver(
                  Runtime.getRuntime().availableProcessors(), DEFAULT_MAX_BATCH_SIZE),
              environment,
              new ModelRepository.Settings(
                  ControlMode.EXPLICIT, 1, List.of(model), Duration.ofSeconds(15)),
              ServeCommand.configLoader());
      repo.loadAll();
    } catch (RuntimeException | Error e) {
      environment.close();
      onnx.close();
      throw e;
    }
    try {
      return new OfflineModel(onnx, environment, repo, repo.resolve(model, version));
    } catch (RuntimeException e) {
      List<ModelVersionStatus> statuses =
          repo.index().stream().filter(st -> st.name().equals(model)).toList();
      String reason =
          statuses.stream()
              .map(ModelVersionStatus::reason)
              .filter(r -> r != null && !r.isEmpty())
              .findFirst()
              .map(r -> "did not load: " + r)
              .orElse(
                  !version.isEmpty() && !statuses.isEmpty()
                      ? "no version "
                          + version
                          + " serves; the repository has "
                          + statuses.stream()
                              .map(st -> st.version() + " (" + st.state() + ")")
                              .toList()
                          + " (its version policy picks which load)"
                      : String.valueOf(e.getMessage()));
      repo.close(Duration.ofSeconds(5));
      environment.close();
      onnx.close();
      throw new IllegalArgumentException(
          "model '" + model + (version.isEmpty() ? "" : ":" + version) + "': " + reason, e);
    }
  }

  InferenceService service() {
    return service;
  }

  ModelVersion version() {
    return version;
  }

  @Override
  public void close() {
    service.beginDrain();
    repository.close(Duration.ofSeconds(30));
    environment.close();
    onnx.close();
  }
}
