package dev.fulcrum.tools.serve;

import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * When {@code serve} starts the dashboard's sampling, which the first request does not need (its
 * first ticks cost tens of ms of CPU on a cold JVM). {@link #SETTLED}, the default, starts it a
 * grace after the first model is ready and the REST port is up, on the grace's thread: nothing of
 * it runs on a request's thread or beside the first answers (docs/PERFORMANCE.md, "Cold start",
 * session 8). The other two are the earlier orders, kept for A/B starts ({@code
 * -Dfulcrum.start.dashboard=answer|model}, bench/coldstart.sh).
 *
 * <p>Stateless; {@link #gate} may be called from any thread.
 */
enum DashboardStart {
  /** A grace after {@code later} (the first model and the REST port), whatever the requests do. */
  SETTLED,
  /**
   * At the first answer once {@code later} has completed, or a grace after it (session 7's order).
   * The gate then opens on the answering engine thread, before that answer's response is completed:
   * the dashboard's thread and first tick start inside the first request.
   */
  ANSWER,
  /** With {@code later}: beside the first request (session 6's order). */
  MODEL;

  /** The mode named by {@code -Dfulcrum.start.dashboard} (default {@link #SETTLED}). */
  static DashboardStart fromProperty(String value) {
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "answer" -> ANSWER;
      case "model" -> MODEL;
      case "settled" -> SETTLED;
      default ->
          throw new IllegalArgumentException(
              "-Dfulcrum.start.dashboard must be settled, answer or model, was '" + value + "'");
    };
  }

  /**
   * Completes when the dashboard's sampling should start.
   *
   * @param later completes (in any way) once the first model is ready or the load is over, and the
   *     REST port is up or failed
   * @param firstAnswer the observer of every model's requests (used by {@link #ANSWER} only)
   * @param grace runs its task once, a while after it is given one (e.g. {@link
   *     CompletableFuture#delayedExecutor}); tests run it by hand
   */
  CompletableFuture<Void> gate(
      CompletableFuture<?> later, FirstAnswer firstAnswer, Executor grace) {
    return switch (this) {
      case SETTLED -> {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        later.whenComplete((r, t) -> grace.execute(() -> gate.complete(null)));
        yield gate;
      }
      case ANSWER -> firstAnswer.afterOr(later, grace);
      case MODEL -> later.handle((r, t) -> null);
    };
  }

  /** Whether the requests' observers must include {@code firstAnswer} for {@link #gate}. */
  boolean watchesAnswers() {
    return this == ANSWER;
  }
}
