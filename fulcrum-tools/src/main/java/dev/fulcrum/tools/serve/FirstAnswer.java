package dev.fulcrum.tools.serve;

import dev.fulcrum.core.scheduler.SchedulerObserver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Tells when the server has answered its first request: the gate of {@link DashboardStart#ANSWER}
 * (session 7's order, kept for A/B starts). What waits on it runs on the answering engine thread,
 * before that answer's response is completed (docs/PERFORMANCE.md, "Cold start", session 8).
 *
 * <p>Thread-safe: {@link #requestDone} and {@link #rejected} may be called from any engine or
 * event-loop thread; after the first answer each costs one volatile read.
 */
final class FirstAnswer implements SchedulerObserver {
  private final CompletableFuture<Void> answered = new CompletableFuture<>();

  @Override
  public void requestDone(RequestDone e) {
    answer();
  }

  @Override
  public void rejected(Rejected e) {
    answer();
  }

  private void answer() {
    if (!answered.isDone()) {
      answered.complete(null);
    }
  }

  /** Completes at the first request a model has finished or refused. */
  CompletableFuture<Void> answered() {
    return answered;
  }

  /**
   * Completes once {@code ready} has (in any way), then at the first answer or when {@code grace}
   * runs what it is given, whichever comes first: a server that gets no request still starts what
   * waits on this.
   *
   * @param grace runs its task once, a while after {@code ready} (e.g. {@link
   *     CompletableFuture#delayedExecutor}); tests run it by hand
   */
  CompletableFuture<Void> afterOr(CompletableFuture<?> ready, Executor grace) {
    CompletableFuture<Void> gate = new CompletableFuture<>();
    answered.thenRun(() -> ready.whenComplete((r, t) -> gate.complete(null)));
    ready.whenComplete((r, t) -> grace.execute(() -> gate.complete(null)));
    return gate;
  }
}
