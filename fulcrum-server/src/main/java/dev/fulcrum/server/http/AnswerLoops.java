package dev.fulcrum.server.http;

import dev.fulcrum.core.scheduler.SubmittingLoop;
import io.netty.channel.SingleThreadEventLoop;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import java.util.concurrent.Executor;

/**
 * The executor a REST request's answer is completed on: its connection's event loop, as the one
 * {@link SubmittingLoop} of that loop, so that the scheduler may defer a lone pass to the end of
 * the loop's turn and join the requests the turn reads into it (docs/PERFORMANCE.md, "Per-request
 * cost", session 16). One per REST port.
 *
 * <p>Its tasks (a turn's pass, a pass's answers) are the loop's tail tasks where the loop has them
 * ({@link SingleThreadEventLoop#executeAfterEventLoopIteration}): they run at the end of every loop
 * iteration, after its reads and at most one task quantum of queued tasks, not behind the whole
 * task queue. Under a connection flood that queue holds thousands of registrations and evictions,
 * and on a fresh JVM a task queued behind them waited up to seconds (docs/PERFORMANCE.md, "Hostile
 * clients", session 17).
 *
 * <p>Threads: {@link #of} is called on event loops; each loop thread makes and keeps its own.
 */
final class AnswerLoops {
  private final FastThreadLocal<Loop> current = new FastThreadLocal<>();

  /**
   * The answer executor for a request submitted now on {@code loop}: this thread's {@link
   * SubmittingLoop} when it is {@code loop}'s own thread, else {@code loop} itself.
   */
  @SuppressWarnings("ReferenceEquality") // an event loop is one thread's queue: its identity
  Executor of(EventExecutor loop) {
    if (!loop.inEventLoop()) {
      return loop;
    }
    Loop mine = current.get();
    if (mine == null || mine.loop != loop) {
      mine = new Loop(loop);
      current.set(mine);
    }
    return mine;
  }

  /**
   * An event loop as a {@link SubmittingLoop}: its tasks run after its current turn's events, as
   * the loop's tail tasks.
   */
  private static final class Loop implements SubmittingLoop {
    private final EventExecutor loop;

    Loop(EventExecutor loop) {
      this.loop = loop;
    }

    @Override
    public boolean inLoop() {
      return loop.inEventLoop();
    }

    @Override
    public void execute(Runnable task) {
      if (loop instanceof SingleThreadEventLoop own) {
        own.executeAfterEventLoopIteration(task);
      } else {
        loop.execute(task);
      }
    }
  }
}
