package dev.fulcrum.core.scheduler;

import java.util.List;
import java.util.concurrent.Executor;

/**
 * The executor a transport's event loop offers for the answers of the requests it submits, when a
 * task it is given from its own thread runs later on that same thread, after the events the loop is
 * handling now (a turn's reads), without waking anything: a Netty event loop. The scheduler then
 * defers a lone pass to the end of the loop's turn ({@link ModelScheduler}: turn passes), so that
 * the requests one turn reads join one pass. One per loop (passes group answers by identity).
 *
 * <p>Threads: {@link #inLoop} is called on any thread; {@link #execute} as any executor's.
 */
public interface SubmittingLoop extends Executor {
  /** Whether the calling thread is this loop's own thread. */
  boolean inLoop();

  /**
   * Runs a pass's answers for this loop's requests, in their order, each as a task of this loop
   * would; none of them throws. A loop may run them in slices with a poll of its sockets between
   * two, so that what it reads meanwhile (an overload's refusals) does not wait for the whole
   * pass's answers (docs/PERFORMANCE.md, "Latency objectives", session 18). Default: one task for
   * all.
   *
   * @throws java.util.concurrent.RejectedExecutionException as {@link #execute}, having run none
   */
  default void executeAll(List<Runnable> answers) {
    execute(
        () -> {
          for (Runnable r : answers) {
            r.run();
          }
        });
  }
}
