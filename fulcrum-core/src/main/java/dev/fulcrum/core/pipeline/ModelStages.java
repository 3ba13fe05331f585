package dev.fulcrum.core.pipeline;

import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.tensor.Tensor;
import java.util.List;

/**
 * The stages of a pipeline model around its forward pass. {@link #before} turns one validated
 * request's inputs (e.g. text) into the engine's inputs (token ids), before the request is queued;
 * the scheduler batches and runs them; {@link #after} turns that request's share of the engine's
 * outputs into the pipeline's outputs (e.g. a pooled, normalized vector).
 *
 * <p>Thread-safe: {@code before} runs on a pre-processing thread and {@code after} on the engine
 * thread that completed the request, for many requests at once.
 */
public interface ModelStages extends AutoCloseable {

  /** The pipeline's inputs and outputs as clients see them (the batch dimension first, -1). */
  ModelSignature signature();

  /**
   * A request's engine inputs and outputs, and what {@link #after} needs to finish it.
   *
   * @param tokens how many tokens the steps' tokenizer made of the request's text (the ones of its
   *     attention mask: special tokens included, padding not); -1 when the steps do not tokenize
   */
  record Prepared(
      List<Tensor> engineInputs,
      List<String> engineOutputs,
      List<RequestedOutput> outputs,
      long tokens) {
    public Prepared {
      engineInputs = List.copyOf(engineInputs);
      engineOutputs = List.copyOf(engineOutputs);
      outputs = List.copyOf(outputs);
    }

    /** Prepared by steps that do not tokenize. */
    public Prepared(
        List<Tensor> engineInputs, List<String> engineOutputs, List<RequestedOutput> outputs) {
      this(engineInputs, engineOutputs, outputs, -1);
    }
  }

  /**
   * Runs the steps before the model on one request.
   *
   * @param inputs the request's inputs, validated against the pipeline's configuration, in its
   *     order
   * @param firstRow the row of the client's request that the inputs' first row is (0, or the row of
   *     a request run row by row), for errors that name a row
   * @param outputs the outputs asked for (never empty: every output when the request named none)
   * @throws dev.fulcrum.core.error.InferenceException INVALID_ARGUMENT for input the steps refuse,
   *     naming the input and the row, not the model (the caller prefixes it)
   */
  Prepared before(List<Tensor> inputs, int firstRow, List<RequestedOutput> outputs);

  /**
   * As {@link #before(List, int, List)}, told whether a text longer than the steps' tokenizer takes
   * may be cut ({@code truncate}, the request's {@link
   * dev.fulcrum.core.inference.RequestOptions#truncate}); steps that do not tokenize ignore it.
   *
   * @throws dev.fulcrum.core.error.InferenceException TOO_LARGE for a text longer than the
   *     tokenizer's max-length when {@code truncate} is false
   */
  default Prepared before(
      List<Tensor> inputs, int firstRow, List<RequestedOutput> outputs, boolean truncate) {
    return before(inputs, firstRow, outputs);
  }

  /**
   * Runs the steps after the model on one request's share of a batch.
   *
   * @param engineOutputs the engine's outputs, in the order of {@link Prepared#engineOutputs()}; a
   *     padded batch leaves them padded to the batch's longest sequence
   * @return the request's outputs, in the order of {@link Prepared#outputs()}
   */
  List<Tensor> after(Prepared prepared, List<Tensor> engineOutputs);

  /** Frees the steps' resources (a tokenizer's native memory). */
  @Override
  void close();
}
