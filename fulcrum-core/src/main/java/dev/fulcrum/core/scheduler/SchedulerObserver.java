package dev.fulcrum.core.scheduler;

/**
 * Receives what a model version's scheduler does, for statistics and metrics. Called from the
 * scheduler's threads and from transports' threads at admission; implementations must be
 * thread-safe and must not block.
 */
public interface SchedulerObserver {

  /** How a request ended. */
  enum Outcome {
    SUCCESS,
    /** The engine failed. */
    FAILED,
    /** Its queue timeout passed before it ran. */
    TIMED_OUT,
    /** The client went away. */
    CANCELLED
  }

  /** A request was refused at admission because the queue was full. */
  default void rejected() {}

  /**
   * A request left the scheduler.
   *
   * @param queueNanos time from admission to the start of its batch (or to its end if it never ran)
   * @param computeInputNanos, computeInferNanos, computeOutputNanos its batch's phases (0 if it
   *     never ran)
   * @param totalNanos admission to completion
   */
  default void requestDone(
      Outcome outcome,
      long queueNanos,
      long computeInputNanos,
      long computeInferNanos,
      long computeOutputNanos,
      long totalNanos) {}

  /** A batch ran: {@code rows} inferences from {@code requests} requests. */
  default void batchDone(
      int rows,
      int requests,
      long computeInputNanos,
      long computeInferNanos,
      long computeOutputNanos) {}

  /**
   * A pipeline model's stages ran for one request: {@code preprocessNanos} before it was queued
   * (e.g. tokenizing), {@code postprocessNanos} after its forward pass (e.g. pooling).
   */
  default void stagesDone(long preprocessNanos, long postprocessNanos) {}

  /** The response cache was looked up for a request: a hit answered it, a miss let it run. */
  default void cacheLookup(boolean hit, long lookupNanos) {}

  /** Observers that ignore everything. */
  static SchedulerObserver none() {
    return new SchedulerObserver() {};
  }

  /** Calls each observer in turn. */
  static SchedulerObserver all(SchedulerObserver... observers) {
    return new SchedulerObserver() {
      @Override
      public void rejected() {
        for (SchedulerObserver o : observers) {
          o.rejected();
        }
      }

      @Override
      public void requestDone(
          Outcome outcome, long queue, long input, long infer, long output, long total) {
        for (SchedulerObserver o : observers) {
          o.requestDone(outcome, queue, input, infer, output, total);
        }
      }

      @Override
      public void batchDone(int rows, int requests, long input, long infer, long output) {
        for (SchedulerObserver o : observers) {
          o.batchDone(rows, requests, input, infer, output);
        }
      }

      @Override
      public void stagesDone(long preprocessNanos, long postprocessNanos) {
        for (SchedulerObserver o : observers) {
          o.stagesDone(preprocessNanos, postprocessNanos);
        }
      }

      @Override
      public void cacheLookup(boolean hit, long lookupNanos) {
        for (SchedulerObserver o : observers) {
          o.cacheLookup(hit, lookupNanos);
        }
      }
    };
  }
}
