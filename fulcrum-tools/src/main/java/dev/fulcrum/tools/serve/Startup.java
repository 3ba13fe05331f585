package dev.fulcrum.tools.serve;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The steps of {@code fulcrum serve}'s start (bind a port, load the models) run at once, each on a
 * thread of its own named {@code fulcrum-start-<step>}, so that a step's class loading and native
 * set-up overlap with the others' instead of adding up.
 *
 * <p>Each step logs at debug level when it ends and the CPU time its thread used, the cold-start
 * timeline of docs/PERFORMANCE.md ({@code
 * -Dorg.slf4j.simpleLogger.log.dev.fulcrum.tools.serve.Startup=debug}).
 *
 * <p>Thread-safety: {@link #run} may be called from any thread; each future is completed by its
 * step's thread and joined by the caller (the CLI's main thread).
 */
final class Startup {
  private static final Logger log = LoggerFactory.getLogger(Startup.class);

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
              if (log.isDebugEnabled()) {
                log.debug(
                    "start step {} ended {} s after the JVM started, {} s CPU on its thread",
                    name,
                    secondsSinceJvmStart(),
                    threadCpuSeconds());
              }
            });
    return result;
  }

  /** Starts {@code step} as {@link #run} does once {@code gate} has completed (in any way). */
  <T> CompletableFuture<T> after(CompletableFuture<?> gate, String name, Callable<T> step) {
    return gate.handle((r, t) -> null).thenCompose(ignored -> run(name, step));
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

  /** A point of the caller's own timeline (the main thread's), logged as a step's end is. */
  static void mark(String what) {
    if (log.isDebugEnabled()) {
      log.debug(
          "start: {} {} s after the JVM started, {} s CPU on this thread",
          what,
          secondsSinceJvmStart(),
          threadCpuSeconds());
    }
  }

  /** CPU seconds the calling thread has used so far, or -1 where the JVM does not measure it. */
  static double threadCpuSeconds() {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    return threads.isCurrentThreadCpuTimeSupported() ? threads.getCurrentThreadCpuTime() / 1e9 : -1;
  }

  /** Seconds since the JVM started (its own clock at creation), for the start-up metric. */
  static double secondsSinceJvmStart() {
    long start = ManagementFactory.getRuntimeMXBean().getStartTime();
    return (System.currentTimeMillis() - start) / 1000.0;
  }
}
