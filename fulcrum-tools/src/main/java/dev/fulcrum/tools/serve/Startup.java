package dev.fulcrum.tools.serve;

import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The steps of {@code fulcrum serve}'s start (bind a port, load the models) run at once, each on a
 * thread of its own named {@code fulcrum-start-<step>}, so that a step's class loading and native
 * set-up overlap with the others' instead of adding up.
 *
 * <p>Thread-safety: {@link #run} may be called from any thread; each future is completed by its
 * step's thread and joined by the caller (the CLI's main thread).
 */
final class Startup {

  /** Starts {@code step} on a new platform thread; its result or failure completes the future. */
  <T> CompletableFuture<T> run(String name, Callable<T> step) {
    CompletableFuture<T> result = new CompletableFuture<>();
    Thread.ofPlatform()
        .name("fulcrum-start-" + name)
        .start(
            () -> {
              try {
                result.complete(step.call());
              } catch (Throwable e) {
                result.completeExceptionally(e);
              }
            });
    return result;
  }

  /** Closes what the steps that succeeded started, after another one failed; waits for each. */
  static void closeStarted(List<CompletableFuture<? extends AutoCloseable>> steps) {
    for (CompletableFuture<? extends AutoCloseable> step : steps) {
      try {
        AutoCloseable started = step.join();
        if (started != null) {
          started.close();
        }
      } catch (Exception ignored) {
        // this step failed as well (or closing it did): nothing more to close
      }
    }
  }

  /** The step's own exception, unwrapped from the future's. */
  static Exception cause(CompletionException e) {
    return e.getCause() instanceof Exception cause ? cause : e;
  }

  /** Seconds since the JVM started (its own clock at creation), for the start-up metric. */
  static double secondsSinceJvmStart() {
    long start = ManagementFactory.getRuntimeMXBean().getStartTime();
    return (System.currentTimeMillis() - start) / 1000.0;
  }
}
