package dev.fulcrum.core;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;

/**
 * Counts one request in its model's statistics once, as its client saw it: a pipeline's, or one
 * whose answer a transport delivers before it is counted ({@link
 * dev.fulcrum.core.inference.OutputDelivery}: a plain or sequence model's, a cache hit's). The
 * scheduler (and a sequence batcher in front of it) hands this the events of the request's passes
 * (one, or one per row of a {@code batching: alone} request), and {@link #finish} sends one event
 * for the whole request once it has its answer, after the steps after the model or the delivery. A
 * request that fails in any row, in a step or in its delivery counts as one failure and none of its
 * rows as a success; a request refused as invalid (a 400) as {@link
 * SchedulerObserver.Outcome#INVALID}, not as a failed pass. Thread-safe.
 */
final class RequestTally implements SchedulerObserver {
  private final SchedulerObserver target;
  private final int rows;
  private final long startNanos;
  private final boolean bestEffort;
  private final List<Object> events = new ArrayList<>(1);
  private boolean finished;

  /**
   * @param target the model version's observer
   * @param rows the request's batch rows
   * @param startNanos when the request came, on the scheduler's clock (the span of a request that
   *     never reached the queue)
   * @param bestEffort its {@code slo_class} is {@code best_effort} (outside SLO attainment)
   */
  RequestTally(SchedulerObserver target, int rows, long startNanos, boolean bestEffort) {
    this.target = target;
    this.rows = rows;
    this.startNanos = startNanos;
    this.bestEffort = bestEffort;
  }

  @Override
  public synchronized void rejected(Rejected e) {
    if (!finished) {
      events.add(e);
    }
  }

  @Override
  public synchronized void requestDone(RequestDone e) {
    if (!finished) {
      events.add(e);
    }
  }

  /**
   * Counts the request: a success when {@code failure} is null, else as the failure its client got.
   * Events that arrive later (a cancelled row's) are dropped.
   *
   * @param nowNanos the scheduler's clock now
   */
  void finish(@Nullable Throwable failure, long nowNanos) {
    Object event;
    synchronized (this) {
      if (finished) {
        return;
      }
      finished = true;
      event = aggregate(failure, nowNanos);
    }
    if (event instanceof Rejected r) {
      target.rejected(r);
    } else if (event instanceof RequestDone d) {
      target.requestDone(d);
    }
  }

  private Object aggregate(@Nullable Throwable failure, long nowNanos) {
    long queue = 0;
    long input = 0;
    long infer = 0;
    long output = 0;
    int batchRows = 0;
    long first = Long.MAX_VALUE;
    long last = Long.MIN_VALUE;
    Outcome failed = null;
    Rejected rejected = null;
    for (Object o : events) {
      if (o instanceof RequestDone d) {
        queue += d.queueNanos();
        input += d.computeInputNanos();
        infer += d.computeInferNanos();
        output += d.computeOutputNanos();
        batchRows = Math.max(batchRows, d.batchRows());
        first = Math.min(first, d.atNanos() - d.totalNanos());
        last = Math.max(last, d.atNanos());
        if (failed == null && d.outcome() != Outcome.SUCCESS) {
          failed = d.outcome();
        }
      } else if (o instanceof Rejected r) {
        first = Math.min(first, r.atNanos() - r.queueNanos());
        last = Math.max(last, r.atNanos());
        if (rejected == null) {
          rejected = r;
        }
      }
    }
    if (last == Long.MIN_VALUE) {
      // no part reached the queue: refused by a step before the model
      first = startNanos;
      last = nowNanos;
    }
    Throwable cause =
        failure instanceof CompletionException && failure.getCause() != null
            ? failure.getCause()
            : failure;
    Outcome outcome;
    if (cause == null) {
      outcome = Outcome.SUCCESS;
    } else if (cause instanceof CancellationException) {
      outcome = Outcome.CANCELLED;
    } else if (failed != null) {
      outcome = failed;
    } else if (rejected != null) {
      return new Rejected(rejected.reason(), rows, queue + rejected.queueNanos(), last, bestEffort);
    } else if (cause instanceof InferenceException e) {
      outcome = e.code() == ErrorCode.INVALID_ARGUMENT ? Outcome.INVALID : Outcome.FAILED;
    } else {
      outcome = Outcome.FAILED;
    }
    // From its first pass's admission to its last pass's end, as the scheduler counts one request
    // (the steps before and after the model are counted apart, as preprocess and postprocess).
    long total = Math.max(0, last - first);
    return new RequestDone(
        outcome, rows, batchRows, queue, input, infer, output, total, nowNanos, bestEffort);
  }
}
