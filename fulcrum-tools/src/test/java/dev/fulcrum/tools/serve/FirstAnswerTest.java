package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.scheduler.SchedulerObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

/**
 * The gate of {@link DashboardStart#ANSWER}: after the first model, then the first answer or a
 * grace.
 */
class FirstAnswerTest {
  /** Holds the grace's task until the test runs it: simulated time. */
  private static final class Grace implements Executor {
    final List<Runnable> tasks = new ArrayList<>();

    @Override
    public void execute(Runnable task) {
      tasks.add(task);
    }

    void elapse() {
      tasks.forEach(Runnable::run);
    }
  }

  @Test
  void opensAtTheFirstAnswerOnceReady() {
    FirstAnswer first = new FirstAnswer();
    CompletableFuture<Void> ready = new CompletableFuture<>();
    Grace grace = new Grace();
    CompletableFuture<Void> gate = first.afterOr(ready, grace);

    first.requestDone(
        new SchedulerObserver.RequestDone(
            SchedulerObserver.Outcome.SUCCESS, 1, 1, 0, 0, 0, 0, 0, 0));
    assertThat(gate).as("answered, but not ready yet").isNotDone();
    assertThat(grace.tasks).as("the grace starts at readiness").isEmpty();
    ready.complete(null);
    assertThat(gate).isDone();
  }

  @Test
  void opensAfterTheGraceWhenNoRequestComes() {
    FirstAnswer first = new FirstAnswer();
    CompletableFuture<Void> ready = new CompletableFuture<>();
    Grace grace = new Grace();
    CompletableFuture<Void> gate = first.afterOr(ready, grace);

    ready.completeExceptionally(new IllegalStateException("the load failed"));
    assertThat(gate).isNotDone();
    grace.elapse();
    assertThat(gate).isDone();
    assertThat(first.answered()).isNotDone();
  }

  @Test
  void aRefusedRequestIsAnAnswerToo() {
    FirstAnswer first = new FirstAnswer();
    CompletableFuture<Void> ready = CompletableFuture.completedFuture(null);
    CompletableFuture<Void> gate = first.afterOr(ready, new Grace());
    assertThat(gate).isNotDone();
    first.rejected(
        new SchedulerObserver.Rejected(SchedulerObserver.RejectReason.QUEUE_FULL, 1, 0, 0));
    assertThat(gate).isDone();
  }
}
