package dev.fulcrum.core.scheduler;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The completions of one worker pass, handed to the executors their requests asked to be answered
 * on (a transport's event loop, {@link ModelScheduler#submit(dev.fulcrum.core.inference
 * .InferenceRequest, dev.fulcrum.core.inference.RequestValidator.Validated, Executor)}) as one task
 * per executor, or one {@link SubmittingLoop#executeAll} per loop: waking a sleeping event loop
 * costs a system call, and a pass's requests share a few loops. A completion without an executor
 * runs at once on the calling thread. Used by the one worker thread that ran the pass, then
 * dropped.
 */
final class PassAnswers {
  private static final Logger log = LoggerFactory.getLogger(PassAnswers.class);

  /** The distinct executors of this pass, in first-seen order (compared by identity). */
  private final List<Executor> executors = new ArrayList<>(2);

  /** Per executor, its completions in the pass's order. */
  private final List<List<Runnable>> completions = new ArrayList<>(2);

  /** Queues {@code completion} for {@code on}, or runs it now when {@code on} is null. */
  @SuppressWarnings("ReferenceEquality") // an executor is one thread's queue: its identity
  void add(@Nullable Executor on, Runnable completion) {
    if (on == null) {
      completion.run();
      return;
    }
    for (int i = 0; i < executors.size(); i++) {
      if (executors.get(i) == on) {
        completions.get(i).add(completion);
        return;
      }
    }
    executors.add(on);
    List<Runnable> mine = new ArrayList<>(4);
    mine.add(completion);
    completions.add(mine);
  }

  /**
   * Hands each executor its completions as one task, in the order they were added; an executor that
   * refuses (shut down) has them run here instead, so that every future completes.
   */
  void handOut() {
    for (int i = 0; i < executors.size(); i++) {
      List<Runnable> mine = completions.get(i);
      Runnable task = mine.size() == 1 ? mine.get(0) : () -> runAll(mine);
      try {
        if (mine.size() > 1 && executors.get(i) instanceof SubmittingLoop loop) {
          // The loop may slice them: each is made safe on its own.
          List<Runnable> safe = new ArrayList<>(mine.size());
          for (Runnable r : mine) {
            safe.add(() -> runLogged(r));
          }
          loop.executeAll(safe);
        } else {
          executors.get(i).execute(task);
        }
      } catch (RejectedExecutionException e) {
        task.run();
      }
    }
  }

  /** Runs each completion; one that throws is logged and does not keep the others from running. */
  private static void runAll(List<Runnable> completions) {
    for (Runnable r : completions) {
      runLogged(r);
    }
  }

  private static void runLogged(Runnable completion) {
    try {
      completion.run();
    } catch (RuntimeException e) {
      log.warn("a request's completion failed", e);
    }
  }
}
