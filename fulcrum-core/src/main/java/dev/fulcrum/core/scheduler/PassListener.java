package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.tensor.Tensor;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Told of each successful forward pass of one model version, once its requests were answered: one
 * call per pass, not per request (the monitor's hand-off, docs/MONITORING.md). The scheduler knows
 * nothing of what the listener does with it.
 *
 * <p>Threads: called on the thread that ran the pass (a worker, or a lent submitting thread), after
 * the pass's responses were released (completed, or with {@code preserve_ordering} queued behind an
 * earlier pass's); it must hand the pass on without blocking and return. What it throws is logged.
 *
 * <p>Ownership: the tensors are immutable and own garbage-collected buffers that nobody writes or
 * frees after the pass (the joined inputs are new buffers of this pass, or the request's own
 * tensors for a pass of one request; the outputs are the engine's copies, which the responses share
 * as slices). A listener may keep references and read them later, on any thread; it must not write
 * them.
 */
@FunctionalInterface
public interface PassListener {

  void passDone(Pass pass);

  /**
   * One pass: its joined inputs and whole outputs, its requests' rows in batch order, and which
   * outputs each request asked for when they did not all ask for every output. Immutable; the
   * arrays are never written after construction.
   */
  final class Pass {
    private final List<Tensor> inputs;
    private final List<String> outputNames;
    private final List<Tensor> outputs;
    private final int totalRows;
    private final int[] requestRows;
    private final @Nullable List<List<String>> requestOutputs;

    /**
     * @param inputs the pass's inputs, rows joined along dimension 0
     * @param outputNames the outputs computed (the union of what its requests asked for)
     * @param outputs the whole outputs, in {@code outputNames}' order
     * @param requestRows each request's rows, in batch order
     * @param requestOutputs each request's asked outputs, in batch order; null when every request
     *     asked for every one of {@code outputNames}
     */
    public Pass(
        List<Tensor> inputs,
        List<String> outputNames,
        List<Tensor> outputs,
        int totalRows,
        int[] requestRows,
        @Nullable List<List<String>> requestOutputs) {
      this.inputs = inputs;
      this.outputNames = outputNames;
      this.outputs = outputs;
      this.totalRows = totalRows;
      this.requestRows = requestRows;
      this.requestOutputs = requestOutputs;
    }

    public List<Tensor> inputs() {
      return inputs;
    }

    public List<String> outputNames() {
      return outputNames;
    }

    public List<Tensor> outputs() {
      return outputs;
    }

    public int totalRows() {
      return totalRows;
    }

    /** How many requests the pass answered. */
    public int requests() {
      return requestRows.length;
    }

    /** The rows of request {@code i} (batch order). */
    public int rows(int i) {
      return requestRows[i];
    }

    /** True when every request asked for every output the pass computed. */
    public boolean uniform() {
      return requestOutputs == null;
    }

    /** The outputs request {@code i} asked for. */
    public List<String> outputsOf(int i) {
      List<List<String>> per = requestOutputs;
      return per == null ? outputNames : per.get(i);
    }
  }
}
