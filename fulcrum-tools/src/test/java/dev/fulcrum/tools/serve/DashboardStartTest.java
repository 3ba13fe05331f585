package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.scheduler.SchedulerObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

/** The order of the dashboard's start against the first model, the first answer and the grace. */
class DashboardStartTest {
  /** Holds the grace's tasks until the test runs them: simulated time. */
  private static final class Grace implements Executor {
    final List<Runnable> tasks = new ArrayList<>();

    @Override
    public void execute(Runnable task) {
      tasks.add(task);
    }

    void elapse() {
      List<Runnable> due = List.copyOf(tasks);
      tasks.clear();
      due.forEach(Runnable::run);
    }
  }

  private static void answer(FirstAnswer first) {
    first.requestDone(
        new SchedulerObserver.RequestDone(
            SchedulerObserver.Outcome.SUCCESS, 1, 1, 0, 0, 0, 0, 0, 0));
  }

  @Test
  void settledStartsOnlyAGraceAfterTheFirstModelNeverAtTheAnswer() {
    FirstAnswer first = new FirstAnswer();
    CompletableFuture<Void> later = new CompletableFuture<>();
    Grace grace = new Grace();
    CompletableFuture<Void> gate = DashboardStart.SETTLED.gate(later, first, grace);

    assertThat(grace.tasks).as("the grace starts with the first model").isEmpty();
    later.complete(null);
    answer(first);
    assertThat(gate).as("the first answer does not open it: its thread stays free").isNotDone();
    grace.elapse();
    assertThat(gate).isDone();
    assertThat(DashboardStart.SETTLED.watchesAnswers()).isFalse();
  }

  @Test
  void settledStartsEvenWhenTheLoadOrThePortFailed() {
    CompletableFuture<Void> later = new CompletableFuture<>();
    Grace grace = new Grace();
    CompletableFuture<Void> gate = DashboardStart.SETTLED.gate(later, new FirstAnswer(), grace);

    later.completeExceptionally(new IllegalStateException("no model loaded"));
    grace.elapse();
    assertThat(gate).isDone();
    assertThat(gate).isNotCompletedExceptionally();
  }

  @Test
  void answerOpensOnTheAnsweringThreadOnceTheFirstModelIsReady() {
    FirstAnswer first = new FirstAnswer();
    CompletableFuture<Void> later = CompletableFuture.completedFuture(null);
    CompletableFuture<Void> gate = DashboardStart.ANSWER.gate(later, first, new Grace());

    assertThat(gate).isNotDone();
    answer(first);
    assertThat(gate).as("opened inside requestDone, on the caller's thread").isDone();
    assertThat(DashboardStart.ANSWER.watchesAnswers()).isTrue();
  }

  @Test
  void modelOpensWithTheFirstModel() {
    CompletableFuture<Void> later = new CompletableFuture<>();
    CompletableFuture<Void> gate = DashboardStart.MODEL.gate(later, new FirstAnswer(), new Grace());

    assertThat(gate).isNotDone();
    later.complete(null);
    assertThat(gate).isDone();
  }

  @Test
  void theSwitchNamesTheThreeOrders() {
    assertThat(DashboardStart.fromProperty("settled")).isEqualTo(DashboardStart.SETTLED);
    assertThat(DashboardStart.fromProperty("ANSWER")).isEqualTo(DashboardStart.ANSWER);
    assertThat(DashboardStart.fromProperty("model")).isEqualTo(DashboardStart.MODEL);
    assertThatThrownBy(() -> DashboardStart.fromProperty("soon"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("settled, answer or model");
  }
}
