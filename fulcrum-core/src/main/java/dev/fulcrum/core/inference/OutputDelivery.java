package dev.fulcrum.core.inference;

/**
 * Delivers a response's outputs somewhere besides the answer before its request is counted: a
 * transport's (Triton's shared memory regions, which the transport resolved when it decoded the
 * request). A delivery that throws fails the request as its client sees it, and the request is
 * counted as that failure in its model's statistics and its tenant's usage, not as a success.
 *
 * <p>Called at most once per request, on the thread that completes the request's answer (an event
 * loop or the engine's); an implementation copies and returns, it never blocks.
 */
@FunctionalInterface
public interface OutputDelivery {

  /**
   * Delivers {@code response}'s outputs.
   *
   * @throws dev.fulcrum.core.error.InferenceException the request's failure (INVALID_ARGUMENT for a
   *     destination the client gave too small)
   */
  void deliver(InferenceResponse response);
}
