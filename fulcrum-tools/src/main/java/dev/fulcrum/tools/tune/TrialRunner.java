package dev.fulcrum.tools.tune;

import java.util.List;

/**
 * Measures one configuration: applies it, drives the runner's load levels, reports each level.
 * Called by the search on one thread, one trial at a time.
 */
interface TrialRunner {

  /**
   * @return one point per load level, at least one
   * @throws TrialException when the configuration could not be applied or measured (the search
   *     records the trial as failed and goes on)
   */
  List<LevelPoint> measure(Knobs knobs) throws TrialException, InterruptedException;

  /** A configuration that could not be applied (the server refused the load) or measured. */
  final class TrialException extends Exception {
    private static final long serialVersionUID = 1L;

    TrialException(String message) {
      super(message);
    }

    TrialException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
