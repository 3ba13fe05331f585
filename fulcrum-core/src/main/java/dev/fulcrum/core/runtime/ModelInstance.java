package dev.fulcrum.core.runtime;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.Tensor;
import java.util.List;

/**
 * One loaded copy of a model that runs forward passes.
 *
 * <p>Not thread-safe by contract: the instance pool calls {@link #execute} from one thread at a
 * time per instance, which lets an engine reuse buffers between calls.
 */
public interface ModelInstance extends AutoCloseable {

  /** The inputs and outputs the model file declares (-1 for a dynamic dimension). */
  ModelSignature signature();

  /**
   * Runs one forward pass.
   *
   * @param inputs every input the model needs, already validated against the configuration
   * @param outputNames the outputs to compute, in the order they are to be returned
   * @return the outputs, in the order of {@code outputNames}; the caller owns them
   * @throws InferenceException with {@link dev.fulcrum.core.error.ErrorCode#INTERNAL} and the
   *     engine's message when the engine fails
   */
  List<Tensor> execute(List<Tensor> inputs, List<String> outputNames);

  /** Frees the engine resources of this instance. */
  @Override
  void close();
}
