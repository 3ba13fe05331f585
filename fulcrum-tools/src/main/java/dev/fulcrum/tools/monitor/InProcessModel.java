package dev.fulcrum.tools.monitor;

import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.repository.ModelVersionStatus;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.pipelines.TextPipelines;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.triton.PbtxtConfigFormat;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * One model of a repository loaded in process, as the offline commands ({@code profile}, {@code
 * skew-check}) run it: the server's own repository, scheduler and engine, no transport. Stateless.
 */
final class InProcessModel {
  private InProcessModel() {}

  /**
   * The repository at {@code root} in explicit mode with only {@code model} loaded (an ONNX model
   * or a pipeline).
   */
  static ModelRepository load(
      Path root, String model, OnnxRuntimeBackend onnx, SchedulerEnvironment environment) {
    ModelRepository repo =
        new ModelRepository(
            List.of(root),
            List.of(onnx, new TextPipelines()),
            new ModelConfigResolver(Runtime.getRuntime().availableProcessors(), 32),
            environment,
            new ModelRepository.Settings(
                ControlMode.EXPLICIT, 1, List.of(model), Duration.ofSeconds(15)),
            new ModelConfigLoader(List.of(new PbtxtConfigFormat())));
    try {
      repo.loadAll();
    } catch (RuntimeException | Error e) {
      repo.close();
      throw e;
    }
    return repo;
  }

  /**
   * The version of {@code model} that serves, or an {@link IllegalArgumentException} that says why
   * it did not load.
   */
  static ModelVersion served(ModelRepository repo, String model) {
    try {
      return repo.resolve(model, "");
    } catch (RuntimeException e) {
      String reason =
          repo.index().stream()
              .filter(s -> s.name().equals(model))
              .map(ModelVersionStatus::reason)
              .filter(r -> r != null && !r.isEmpty())
              .findFirst()
              .orElse(e.getMessage());
      throw new IllegalArgumentException("model '" + model + "' did not load: " + reason, e);
    }
  }
}
