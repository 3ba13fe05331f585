package dev.fulcrum.server.http;

import dev.fulcrum.core.scheduler.SubmittingLoop;
import io.netty.channel.SingleThreadEventLoop;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

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
 * <p>A pass's answers ({@link SubmittingLoop#executeAll}) run in slices of at most {@link
 * #sliceNanos} each (MiniLM's answer renders 6,144 floats, ~250 us; by estimate a pass's ~8 answers
 * for one loop hold it ~2 ms): past a slice the rest waits for the loop's next poll of its sockets,
 * so that a request it reads meanwhile (an overload's refusal, decided and written within its read)
 * does not wait for the whole pass's answers (docs/PERFORMANCE.md, "Latency objectives", session
 * 18). While the loop has many queued tasks (a connection flood), the rest runs at once as before.
 * Set by {@value #SLICE_PROPERTY} (microseconds, 0: no slices).
 *
 * <p>Threads: {@link #of} is called on event loops; each loop thread makes and keeps its own.
 */
final class AnswerLoops {
  /** The system property that sets the answers' slice, in microseconds (0: none). */
  static final String SLICE_PROPERTY = "fulcrum.http.answer-slice-us";

  /** The default slice (0: none, a pass's answers all at once as before session 18). */
  static final long DEFAULT_SLICE_US = 0;

  /** Regular tasks queued at which the rest of a pass's answers runs at once (a flood). */
  private static final int FEW_TASKS = 16;

  private final FastThreadLocal<Loop> current = new FastThreadLocal<>();
  private final long sliceNanos;

  /** With the slice of {@value #SLICE_PROPERTY}, or the default. */
  AnswerLoops() {
    this(sliceFromSystemProperties());
  }

  /** With answers' slices of {@code sliceMicros} (0: a pass's answers all at once). */
  AnswerLoops(long sliceMicros) {
    if (sliceMicros < 0) {
      throw new IllegalArgumentException(
          SLICE_PROPERTY + " must be 0 (no slices) or more microseconds, not " + sliceMicros);
    }
    this.sliceNanos = TimeUnit.MICROSECONDS.toNanos(sliceMicros);
  }

  static long sliceFromSystemProperties() {
    String value = System.getProperty(SLICE_PROPERTY, String.valueOf(DEFAULT_SLICE_US)).trim();
    try {
      return Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          SLICE_PROPERTY + " must be a whole number of microseconds, not '" + value + "'", e);
    }
  }

  /** The answers' slice in nanoseconds (0: none). */
  long sliceNanos() {
    return sliceNanos;
  }

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
      mine = new Loop(loop, sliceNanos);
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
    private final long sliceNanos;

    /** Answers handed over and not run yet, in order (any thread adds, the loop takes). */
    private final Queue<Runnable> answers = new ConcurrentLinkedQueue<>();

    /** Whether a drain of {@link #answers} is queued or running. */
    private final AtomicBoolean draining = new AtomicBoolean();

    Loop(EventExecutor loop, long sliceNanos) {
      this.loop = loop;
      this.sliceNanos = sliceNanos;
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

    @Override
    public void executeAll(List<Runnable> pass) {
      if (sliceNanos == 0 || !(loop instanceof SingleThreadEventLoop own)) {
        SubmittingLoop.super.executeAll(pass);
        return;
      }
      answers.addAll(pass);
      if (draining.compareAndSet(false, true)) {
        try {
          own.executeAfterEventLoopIteration(() -> drain(own));
        } catch (RejectedExecutionException e) {
          // Shut down: every queued answer runs here, so that each future completes.
          for (Runnable r; (r = answers.poll()) != null; ) {
            r.run();
          }
          draining.set(false);
        }
      }
    }

    /** Runs the queued answers for one slice; the rest after the next poll of the sockets. */
    private void drain(SingleThreadEventLoop own) {
      long start = System.nanoTime();
      for (; ; ) {
        Runnable r = answers.poll();
        if (r == null) {
          draining.set(false);
          // An answer added between the poll and the flag: take it now.
          if (answers.isEmpty() || !draining.compareAndSet(false, true)) {
            return;
          }
          continue;
        }
        r.run();
        if (System.nanoTime() - start >= sliceNanos
            && !answers.isEmpty()
            && own.pendingTasks() < FEW_TASKS) {
          // A task, not a tail task: it runs after the loop's next poll (a tail task added now
          // would run in this same iteration).
          try {
            own.execute(() -> drain(own));
            return;
          } catch (RejectedExecutionException e) {
            start = System.nanoTime(); // shutting down: the rest runs here and now
          }
        }
      }
    }
  }
}
