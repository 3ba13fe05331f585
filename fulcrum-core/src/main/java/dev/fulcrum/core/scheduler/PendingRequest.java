package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.Tensor;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;

/**
 * A request waiting in, or taken from, a model's queue. Immutable apart from {@link #state}, {@link
 * #delayed} and {@link #timeoutTask}, which only the scheduler changes under its lock.
 */
final class PendingRequest {
  enum State {
    QUEUED,
    RUNNING,
    DONE
  }

  final InferenceRequest request;
  final List<Tensor> inputs;
  final List<String> outputs;
  final int rows;
  final String batchKey;
  final int level;
  final long arrivalNanos;
  final long deadlineNanos;
  final long seq;
  final CompletableFuture<InferenceResponse> future = new CompletableFuture<>();

  State state = State.QUEUED;
  boolean delayed;
  ScheduledFuture<?> timeoutTask;

  PendingRequest(
      InferenceRequest request,
      List<Tensor> inputs,
      List<String> outputs,
      int rows,
      int level,
      long arrivalNanos,
      long deadlineNanos,
      long seq) {
    this.request = request;
    this.inputs = inputs;
    this.outputs = outputs;
    this.rows = rows;
    this.batchKey = batchKey(inputs);
    this.level = level;
    this.arrivalNanos = arrivalNanos;
    this.deadlineNanos = deadlineNanos;
    this.seq = seq;
  }

  /** Requests may share a batch only when their inputs agree on type and non-batch dims. */
  static String batchKey(List<Tensor> inputs) {
    StringBuilder sb = new StringBuilder();
    for (Tensor t : inputs) {
      long[] s = t.shape();
      sb.append(t.datatype())
          .append(s.length == 0 ? "[]" : Shapes.toString(Shapes.dropFirst(s)))
          .append(';');
    }
    return sb.toString();
  }

  boolean hasDeadline() {
    return deadlineNanos != Long.MAX_VALUE;
  }
}
