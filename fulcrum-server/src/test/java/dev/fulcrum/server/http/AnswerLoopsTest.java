package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.scheduler.SubmittingLoop;
import io.netty.channel.SingleThreadIoEventLoop;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.RejectedExecutionHandlers;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A request's answer on its event loop: it runs at the end of the loop's iteration, not behind
 * every task the loop has queued (as under a connection flood, thousands of registrations).
 */
class AnswerLoopsTest {
  /** Far more queued work than the test waits for: the answer must not wait for its end. */
  private static final int BACKLOG = 100_000;

  private SingleThreadIoEventLoop loop;
  private final AtomicBoolean answered = new AtomicBoolean();
  private final AtomicInteger backlogRun = new AtomicInteger();

  @BeforeEach
  void startLoop() {
    // A 1 ms task quantum, as the REST loops have 10 ms: Netty checks it every 64 tasks.
    loop =
        new SingleThreadIoEventLoop(
            null,
            new DefaultThreadFactory("answer-loops-test"),
            NioIoHandler.newFactory(),
            Integer.MAX_VALUE,
            RejectedExecutionHandlers.reject(),
            1);
  }

  @AfterEach
  void stopLoop() {
    answered.set(true); // the rest of the backlog returns at once
    loop.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly();
  }

  /** One queued task of the backlog: 20 us of work until the answer has run, then nothing. */
  private void backlogTask() {
    if (answered.get()) {
      return;
    }
    long end = System.nanoTime() + 20_000;
    while (System.nanoTime() < end) {
      Thread.onSpinWait();
    }
    backlogRun.incrementAndGet();
  }

  private void queueBacklog() {
    for (int i = 0; i < BACKLOG; i++) {
      loop.execute(this::backlogTask);
    }
  }

  @Test
  void anAnswerGivenOnTheLoopRunsBeforeTheLoopsQueuedTasksAreDone() throws Exception {
    AnswerLoops loops = new AnswerLoops();
    CompletableFuture<Integer> backlogBeforeAnswer = new CompletableFuture<>();
    loop.submit(
            () -> {
              queueBacklog();
              loops
                  .of(loop)
                  .execute(
                      () -> {
                        answered.set(true);
                        backlogBeforeAnswer.complete(backlogRun.get());
                      });
            })
        .sync();

    assertThat(backlogBeforeAnswer.get(30, TimeUnit.SECONDS)).isLessThan(BACKLOG);
  }

  @Test
  void anAnswerCompletedOnAnotherThreadRunsBeforeTheLoopsQueuedTasksAreDone() throws Exception {
    AnswerLoops loops = new AnswerLoops();
    CompletableFuture<Executor> answerExecutor = new CompletableFuture<>();
    loop.submit(
            () -> {
              queueBacklog();
              // Taken where a request is read (the loop), used where its pass ends (a worker).
              answerExecutor.complete(loops.of(loop));
            })
        .sync();
    CompletableFuture<Integer> backlogBeforeAnswer = new CompletableFuture<>();
    CompletableFuture<Boolean> onLoop = new CompletableFuture<>();

    answerExecutor
        .get()
        .execute(
            () -> {
              answered.set(true);
              onLoop.complete(loop.inEventLoop());
              backlogBeforeAnswer.complete(backlogRun.get());
            });

    assertThat(backlogBeforeAnswer.get(30, TimeUnit.SECONDS)).isLessThan(BACKLOG);
    assertThat(onLoop.get()).isTrue();
  }

  /** The loop's answer executor, taken on the loop as a request's read would. */
  private SubmittingLoop answerLoopOf(AnswerLoops loops) throws Exception {
    CompletableFuture<Executor> taken = new CompletableFuture<>();
    loop.submit(() -> taken.complete(loops.of(loop))).sync();
    return (SubmittingLoop) taken.get();
  }

  @Test
  void slicedAnswersAllRunOnTheLoopInTheirOrderAcrossPasses() throws Exception {
    // A 1 us slice: the rest of a pass waits for the next poll after nearly every answer.
    SubmittingLoop answers = answerLoopOf(new AnswerLoops(1));
    List<Integer> ran = new CopyOnWriteArrayList<>();
    AtomicBoolean offLoop = new AtomicBoolean();
    CompletableFuture<Void> last = new CompletableFuture<>();
    int passes = 20;
    int perPass = 8;
    for (int p = 0; p < passes; p++) {
      List<Runnable> pass = new ArrayList<>();
      for (int i = 0; i < perPass; i++) {
        int n = p * perPass + i;
        pass.add(
            () -> {
              offLoop.compareAndSet(false, !loop.inEventLoop());
              ran.add(n);
              if (n == passes * perPass - 1) {
                last.complete(null);
              }
            });
      }
      answers.executeAll(pass); // from this thread, as a worker hands over its pass
    }

    last.get(30, TimeUnit.SECONDS);
    List<Integer> expected = new ArrayList<>();
    for (int n = 0; n < passes * perPass; n++) {
      expected.add(n);
    }
    assertThat(ran).isEqualTo(expected);
    assertThat(offLoop).isFalse();
  }

  @Test
  void slicedAnswersStillComeBeforeAFloodsQueuedTasks() throws Exception {
    SubmittingLoop answers = answerLoopOf(new AnswerLoops(1));
    loop.submit(this::queueBacklog).sync();
    CompletableFuture<Integer> backlogBeforeLast = new CompletableFuture<>();
    List<Runnable> pass = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      pass.add(() -> {});
    }
    pass.add(
        () -> {
          answered.set(true);
          backlogBeforeLast.complete(backlogRun.get());
        });

    answers.executeAll(pass);

    assertThat(backlogBeforeLast.get(30, TimeUnit.SECONDS)).isLessThan(BACKLOG);
  }

  @Test
  void answersHandedToAShutDownLoopRunOnTheCaller() throws Exception {
    SubmittingLoop answers = answerLoopOf(new AnswerLoops(1));
    loop.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly();
    AtomicInteger ran = new AtomicInteger();

    answers.executeAll(List.of(ran::incrementAndGet, ran::incrementAndGet));

    assertThat(ran).hasValue(2);
  }

  @Test
  void aNegativeSliceIsRefused() {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new AnswerLoops(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(AnswerLoops.SLICE_PROPERTY);
  }

  @Test
  void offTheLoopTheLoopItselfIsTheAnswerExecutor() {
    assertThat(new AnswerLoops().of(loop)).isSameAs(loop);
  }
}
