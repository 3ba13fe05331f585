package dev.fulcrum.core.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.junit.jupiter.api.Test;

/** A pass's answers reach each executor in one hand-over, in order, and all of them run. */
class PassAnswersTest {
  /** A loop that keeps what it is given, to run when the test says. */
  private static final class HeldLoop implements SubmittingLoop {
    final List<List<Runnable>> handedAll = new ArrayList<>();
    final List<Runnable> tasks = new ArrayList<>();
    boolean shutDown;

    @Override
    public boolean inLoop() {
      return false;
    }

    @Override
    public void execute(Runnable task) {
      if (shutDown) {
        throw new RejectedExecutionException("shut down");
      }
      tasks.add(task);
    }

    @Override
    public void executeAll(List<Runnable> answers) {
      if (shutDown) {
        throw new RejectedExecutionException("shut down");
      }
      handedAll.add(answers);
    }
  }

  @Test
  void aLoopGetsItsPassAnswersInOneHandOverInOrderAndAFailingOneDoesNotStopTheRest() {
    HeldLoop loop = new HeldLoop();
    List<Integer> ran = new ArrayList<>();
    PassAnswers pass = new PassAnswers();
    pass.add(loop, () -> ran.add(1));
    pass.add(
        loop,
        () -> {
          throw new IllegalStateException("a broken completion");
        });
    pass.add(loop, () -> ran.add(3));

    pass.handOut();

    assertThat(loop.handedAll).hasSize(1);
    assertThat(loop.tasks).isEmpty();
    loop.handedAll.get(0).forEach(Runnable::run); // none throws
    assertThat(ran).containsExactly(1, 3);
  }

  @Test
  void aPlainExecutorGetsOneTaskAndALoneAnswerIsOneTaskToo() {
    List<Runnable> plain = new ArrayList<>();
    Executor executor = plain::add;
    HeldLoop loop = new HeldLoop();
    List<Integer> ran = new ArrayList<>();
    PassAnswers pass = new PassAnswers();
    pass.add(executor, () -> ran.add(1));
    pass.add(executor, () -> ran.add(2));
    pass.add(loop, () -> ran.add(3));

    pass.handOut();

    assertThat(plain).hasSize(1);
    assertThat(loop.handedAll).isEmpty();
    assertThat(loop.tasks).hasSize(1);
    plain.get(0).run();
    loop.tasks.get(0).run();
    assertThat(ran).containsExactly(1, 2, 3);
  }

  @Test
  void answersForALoopThatRefusesRunOnTheCaller() {
    HeldLoop loop = new HeldLoop();
    loop.shutDown = true;
    List<Integer> ran = new ArrayList<>();
    PassAnswers pass = new PassAnswers();
    pass.add(loop, () -> ran.add(1));
    pass.add(loop, () -> ran.add(2));

    pass.handOut();

    assertThat(ran).containsExactly(1, 2);
  }
}
