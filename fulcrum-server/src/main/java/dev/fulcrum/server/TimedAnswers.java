package dev.fulcrum.server;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;

/**
 * The one decision, for REST and gRPC alike, of whether an inference request is timed, and the one
 * place a timing the client did not ask to see is taken off its answer. A request is timed when the
 * server needs it for itself (the slow-request log is on, or the request is traced), when the
 * client asked ({@code timing: true}), or with {@code --request-timing-always} (the core adds that
 * one); its answer shows the timing only in the last two cases. A timing only the slow-request log
 * reads is not priced ({@code cost_usd}: the core skips that stage); a traced request's is, as its
 * span carries the cost. Stateless.
 */
public final class TimedAnswers {
  private TimedAnswers() {}

  /**
   * The request to run.
   *
   * @param slowLog the slow-request log is on (it reads the times, not the cost)
   * @param traced the request is traced (its span carries the times and the cost)
   */
  public static InferenceRequest toRun(InferenceRequest asked, boolean slowLog, boolean traced) {
    if (asked.options().timing()) {
      return asked;
    }
    if (traced) {
      return asked.withOptions(asked.options().withTiming());
    }
    return slowLog ? asked.withOptions(asked.options().withServerTiming()) : asked;
  }

  /** Whether the answer to {@code asked} shows its timing. */
  public static boolean shown(InferenceService service, InferenceRequest asked) {
    return asked.options().timing() || service.timingAlways();
  }

  /** The answer as the client sees it: without a timing it did not ask to see. */
  public static InferenceResponse toShow(InferenceResponse timed, boolean shown) {
    return shown || timed.timing() == null ? timed : timed.withTiming(null);
  }
}
