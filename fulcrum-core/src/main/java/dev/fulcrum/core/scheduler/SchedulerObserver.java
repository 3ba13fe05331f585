package dev.fulcrum.core.scheduler;

/**
 * Receives what a model version's scheduler does, for statistics, metrics and SLO accounting, as
 * one event record per call. Called from the scheduler's threads and from transports' threads at
 * admission; implementations must be thread-safe and must not block.
 */
public interface SchedulerObserver {

  /** How a request that was admitted ended. */
  enum Outcome {
    SUCCESS,
    /** The engine failed. */
    FAILED,
    /**
     * Its input was refused as it ran: a pipeline's step before the model (a text over max-length
     * that may not be cut), or the pass's own check (an index out of range); a 400 /
     * INVALID_ARGUMENT the client caused. Triton's failure reason OTHER, not BACKEND.
     */
    INVALID,
    /** Its queue timeout passed before it ran. */
    TIMED_OUT,
    /** The client went away. */
    CANCELLED;

    /** How a request that {@code error} ended failed: INVALID for a 400, else FAILED. */
    public static Outcome failedBy(dev.fulcrum.core.error.InferenceException error) {
      return error.code() == dev.fulcrum.core.error.ErrorCode.INVALID_ARGUMENT ? INVALID : FAILED;
    }
  }

  /** Why a request was refused without running. */
  enum RejectReason {
    /** The queue was full at admission. */
    QUEUE_FULL,
    /**
     * The SLO policy found that the request cannot meet its latency objective: refused at
     * admission, or dropped from the queue once its deadline became unreachable.
     */
    SLO
  }

  /**
   * A request was refused without running.
   *
   * @param reason why
   * @param rows the request's batch rows (1 when not known, as at a transport's early check)
   * @param queueNanos how long it waited before it was dropped (0 when refused at admission)
   * @param atNanos when, on the scheduler's {@link Ticker}
   * @param bestEffort the request's {@code slo_class} was {@code best_effort}: the latency
   *     objective does not apply to it, and SLO attainment leaves it out
   */
  record Rejected(
      RejectReason reason, int rows, long queueNanos, long atNanos, boolean bestEffort) {

    /** A refusal of a request the objective applies to (or whose class is not known yet). */
    public Rejected(RejectReason reason, int rows, long queueNanos, long atNanos) {
      this(reason, rows, queueNanos, atNanos, false);
    }
  }

  /**
   * An admitted request left the scheduler.
   *
   * @param outcome how it ended
   * @param rows its batch rows
   * @param batchRows rows of the batch it ran in (0 if it never ran)
   * @param queueNanos admission to the start of its batch (or to its end if it never ran)
   * @param computeInputNanos its batch's compute_input phase (0 if it never ran)
   * @param computeInferNanos its batch's compute_infer phase (0 if it never ran)
   * @param computeOutputNanos its batch's compute_output phase (0 if it never ran)
   * @param totalNanos admission to completion
   * @param atNanos its completion, on the scheduler's {@link Ticker}
   * @param bestEffort its {@code slo_class} was {@code best_effort}: the latency objective does not
   *     apply to it, and SLO attainment leaves it out
   */
  record RequestDone(
      Outcome outcome,
      int rows,
      int batchRows,
      long queueNanos,
      long computeInputNanos,
      long computeInferNanos,
      long computeOutputNanos,
      long totalNanos,
      long atNanos,
      boolean bestEffort) {

    /** The end of a request the objective applies to. */
    public RequestDone(
        Outcome outcome,
        int rows,
        int batchRows,
        long queueNanos,
        long computeInputNanos,
        long computeInferNanos,
        long computeOutputNanos,
        long totalNanos,
        long atNanos) {
      this(
          outcome,
          rows,
          batchRows,
          queueNanos,
          computeInputNanos,
          computeInferNanos,
          computeOutputNanos,
          totalNanos,
          atNanos,
          false);
    }

    /** The compute phases together: the time its batch held the instance. */
    public long computeNanos() {
      return computeInputNanos + computeInferNanos + computeOutputNanos;
    }
  }

  /**
   * A batch ran (a pass that failed and was rerun member by member is not one).
   *
   * @param rows inferences (batch rows) in it
   * @param requests requests in it
   * @param computeInputNanos join time
   * @param computeInferNanos forward-pass time
   * @param computeOutputNanos split time
   * @param atNanos its end, on the scheduler's {@link Ticker}
   */
  record BatchDone(
      int rows,
      int requests,
      long computeInputNanos,
      long computeInferNanos,
      long computeOutputNanos,
      long atNanos) {

    /** The compute phases together: the time the batch held its instance. */
    public long computeNanos() {
      return computeInputNanos + computeInferNanos + computeOutputNanos;
    }
  }

  /** A request was refused without running (see {@link Rejected#reason()}). */
  default void rejected(Rejected e) {}

  /** An admitted request left the scheduler. */
  default void requestDone(RequestDone e) {}

  /** A batch ran. */
  default void batchDone(BatchDone e) {}

  /**
   * A pipeline model's stages ran for one request: {@code preprocessNanos} before it was queued
   * (e.g. tokenizing), {@code postprocessNanos} after its forward pass (e.g. pooling).
   */
  default void stagesDone(long preprocessNanos, long postprocessNanos) {}

  /**
   * The response cache was looked up for a request of {@code rows} batch rows: a hit answered it
   * (in {@code lookupNanos}, its whole time in the server's core), a miss let it run.
   */
  default void cacheLookup(boolean hit, int rows, long lookupNanos) {}

  /** Observers that ignore everything. */
  static SchedulerObserver none() {
    return new SchedulerObserver() {};
  }

  /** Calls each observer in turn. */
  static SchedulerObserver all(SchedulerObserver... observers) {
    SchedulerObserver[] copy = observers.clone();
    return new SchedulerObserver() {
      @Override
      public void rejected(Rejected e) {
        for (SchedulerObserver o : copy) {
          o.rejected(e);
        }
      }

      @Override
      public void requestDone(RequestDone e) {
        for (SchedulerObserver o : copy) {
          o.requestDone(e);
        }
      }

      @Override
      public void batchDone(BatchDone e) {
        for (SchedulerObserver o : copy) {
          o.batchDone(e);
        }
      }

      @Override
      public void stagesDone(long preprocessNanos, long postprocessNanos) {
        for (SchedulerObserver o : observers) {
          o.stagesDone(preprocessNanos, postprocessNanos);
        }
      }

      @Override
      public void cacheLookup(boolean hit, int rows, long lookupNanos) {
        for (SchedulerObserver o : observers) {
          o.cacheLookup(hit, rows, lookupNanos);
        }
      }
    };
  }
}
