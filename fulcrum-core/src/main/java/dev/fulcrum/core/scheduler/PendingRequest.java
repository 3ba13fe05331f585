package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.tensor.Tensor;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;

/**
 * A request waiting in, or taken from, a model's queue. Immutable apart from {@link #place}, which
 * only {@link RequestQueue} changes, under its scheduler's lock, and a deferred request's inputs,
 * outputs and preparation time, which the worker that took it sets once before its pass.
 */
final class PendingRequest {
  /** Where a request waits. */
  enum Place {
    /** Not in the queue: not admitted yet, or taken out (dispatched, timed out or cancelled). */
    NONE,
    /** In the FIFO of its priority level, where its deadline (if any) still applies. */
    LEVEL,
    /** In the FIFO of requests delayed by a timeout, behind every request on time. */
    DELAYED
  }

  final InferenceRequest request;
  List<Tensor> inputs;
  List<String> outputs;
  final int rows;
  final int level;
  final long arrivalNanos;
  final long deadlineNanos;
  final long seq;

  /**
   * Whether this request's inputs may be padded along their last dimension to join a batch (a
   * pipeline's token ids: sequences of different lengths).
   */
  final boolean paddable;

  /** Whether this request runs in a pass of its own, never joined with another. */
  final boolean alone;

  /**
   * Makes the inputs on the worker, just before the pass (a deferred request, which runs alone), or
   * null: the inputs came with the request.
   */
  final ModelScheduler.@Nullable Preparation preparation;

  /** How long the worker spent in {@link #preparation}: neither queue nor compute time. */
  long prepareNanos;

  /**
   * When the SLO policy's admission plan expected this request to finish (absolute, nanoseconds),
   * or {@link Long#MIN_VALUE} when it was admitted without a plan (a probe, before the first pass,
   * best effort). Read back when its pass ends, to calibrate the plan against its outcomes.
   */
  long plannedFinishNanos = Long.MIN_VALUE;

  /** With {@link #plannedFinishNanos}: the passes its plan counted ahead of its own (its depth). */
  int plannedDepth;

  /**
   * With {@link #plannedFinishNanos}: admitted by a warm plan (each pass at its percentile), so
   * that a late drop of it says the plan, not a cold estimate, was short.
   */
  boolean admittedWarm;

  final CompletableFuture<InferenceResponse> future = new CompletableFuture<>();

  /**
   * Where a worker's pass completes {@link #future} ({@link PassAnswers}), or null: on the worker.
   */
  final @Nullable Executor answerOn;

  Place place = Place.NONE;

  /**
   * Where this request's own statistics events go instead of the scheduler's observer, or null:
   * there. A pipeline's row of a many-row request (or any pipeline request, whose steps after the
   * model may still fail it) is counted by its caller once the whole request has its answer. Set
   * once at admission, under the scheduler's lock.
   */
  @Nullable SchedulerObserver counter;

  /** A request that neither pads nor runs alone (a plain model's). */
  PendingRequest(
      InferenceRequest request,
      List<Tensor> inputs,
      List<String> outputs,
      int rows,
      int level,
      long arrivalNanos,
      long deadlineNanos,
      long seq) {
    this(
        request,
        inputs,
        outputs,
        rows,
        level,
        arrivalNanos,
        deadlineNanos,
        seq,
        false,
        false,
        null,
        null);
  }

  PendingRequest(
      InferenceRequest request,
      List<Tensor> inputs,
      List<String> outputs,
      int rows,
      int level,
      long arrivalNanos,
      long deadlineNanos,
      long seq,
      boolean paddable,
      boolean alone,
      ModelScheduler.@Nullable Preparation preparation,
      @Nullable Executor answerOn) {
    this.request = request;
    this.answerOn = answerOn;
    this.inputs = inputs;
    this.outputs = outputs;
    this.rows = rows;
    this.level = level;
    this.arrivalNanos = arrivalNanos;
    this.deadlineNanos = deadlineNanos;
    this.seq = seq;
    this.paddable = paddable;
    this.alone = alone || preparation != null;
    this.preparation = preparation;
  }

  /**
   * The arrival its statistics count from: a deferred request's preparation is left out (it is the
   * pipeline's pre-processing time, reported apart).
   */
  long statsArrivalNanos() {
    return arrivalNanos + prepareNanos;
  }

  /**
   * Whether this request may share a batch with {@code other}: their inputs agree, in order, on
   * datatype and non-batch dims (a scalar input counts as having no non-batch dims, like a vector);
   * when both are {@link #paddable}, the last dimension may differ (the batch pads it).
   */
  @SuppressWarnings("ReferenceEquality") // the same list: a shortcut, not the comparison
  boolean batchesWith(PendingRequest other) {
    List<Tensor> a = inputs;
    List<Tensor> b = other.inputs;
    if (a == b || this == other) {
      return true;
    }
    if (alone || other.alone) {
      return false;
    }
    int n = a.size();
    if (n != b.size()) {
      return false;
    }
    for (int i = 0; i < n; i++) {
      Tensor x = a.get(i);
      Tensor y = b.get(i);
      if (x == y) {
        continue;
      }
      int rank = x.rank();
      if (x.datatype() != y.datatype() || Math.max(rank, 1) != Math.max(y.rank(), 1)) {
        return false;
      }
      int fixed = paddable && other.paddable && rank >= 2 ? rank - 1 : rank;
      for (int d = 1; d < fixed; d++) {
        if (x.dim(d) != y.dim(d)) {
          return false;
        }
      }
    }
    return true;
  }

  boolean hasDeadline() {
    return deadlineNanos != Long.MAX_VALUE;
  }
}
