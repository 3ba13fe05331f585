package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.SingleThreadIoEventLoop;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.RejectedExecutionHandlers;
import java.util.concurrent.CompletableFuture;
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

  @Test
  void offTheLoopTheLoopItselfIsTheAnswerExecutor() {
    assertThat(new AnswerLoops().of(loop)).isSameAs(loop);
  }
}
