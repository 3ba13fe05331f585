package dev.fulcrum.core.repository;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import java.util.List;

/**
 * The instance behind an ensemble version's scheduler, which no request reaches: an ensemble's
 * requests run as requests to its steps' models ({@code EnsembleRunner}), and its scheduler only
 * holds its statistics, its admission checks and its lifecycle as any version's. Its signature is
 * what the ensemble declares. Its scheduler's worker idles without a thread ({@code
 * ModelManager#loadEnsembleVersion}). Immutable and thread-safe.
 */
final class EnsembleInstance implements ModelInstance {
  private final ModelSignature signature;

  EnsembleInstance(ModelConfig config) {
    this.signature =
        new ModelSignature(specs(config, config.inputs()), specs(config, config.outputs()));
  }

  private static List<TensorSpec> specs(ModelConfig config, List<TensorConfig> tensors) {
    return tensors.stream()
        .map(t -> new TensorSpec(t.name(), t.datatype(), config.fullShape(t)))
        .toList();
  }

  @Override
  public ModelSignature signature() {
    return signature;
  }

  @Override
  public List<Tensor> execute(List<Tensor> inputs, List<String> outputNames) {
    throw InferenceException.internal("an ensemble runs no pass of its own", null);
  }

  @Override
  public void close() {}
}
