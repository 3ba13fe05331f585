package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.runtime.ComputeNice;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.function.LongSupplier;

/**
 * What schedulers take from outside: time, threads, the deadline timer and the observers of each
 * model version, injected so that tests control time and threads and so that the metrics layer can
 * watch every scheduler without the core knowing of it. Immutable; the timer it creates in {@link
 * #system} is shut down by {@link #close()}.
 *
 * @param ticker monotonic time
 * @param wallClockMillis wall-clock time, for {@code last_inference}
 * @param workerThreads makes the schedulers' worker threads
 * @param timer runs queue-timeout expiries
 * @param observers gives extra observers per model version (metrics); may return {@link
 *     SchedulerObserver#none()}
 * @param workerIdle positive: a worker thread starts when its instance's first request needs it and
 *     ends after this long with nothing to do ({@link ModelScheduler}, "Idle workers"); {@link
 *     Duration#ZERO}: the worker threads start with their model version and live until its close
 */
public record SchedulerEnvironment(
    Ticker ticker,
    LongSupplier wallClockMillis,
    ThreadFactory workerThreads,
    ScheduledExecutorService timer,
    ObserverFactory observers,
    Duration workerIdle)
    implements AutoCloseable {

  public SchedulerEnvironment {
    if (workerIdle.isNegative()) {
      throw new IllegalArgumentException("workerIdle must not be negative, was " + workerIdle);
    }
  }

  /** Creates the extra observer of one model version. */
  @FunctionalInterface
  public interface ObserverFactory {
    SchedulerObserver create(String model, String version);
  }

  /** Real time, platform threads, one daemon timer thread, no extra observers. */
  public static SchedulerEnvironment system() {
    return system((m, v) -> SchedulerObserver.none());
  }

  /** Real time, platform threads, one daemon timer thread and the given observers. */
  public static SchedulerEnvironment system(ObserverFactory observers) {
    return system(observers, ComputeNice.none());
  }

  /**
   * Real time, platform threads (the worker threads at {@code nice}: {@link ComputeNice}), one
   * daemon timer thread and the given observers.
   */
  public static SchedulerEnvironment system(ObserverFactory observers, ComputeNice nice) {
    ScheduledThreadPoolExecutor timer =
        new ScheduledThreadPoolExecutor(
            1, Thread.ofPlatform().name("fulcrum-deadlines").daemon(true).factory());
    timer.setRemoveOnCancelPolicy(true);
    return new SchedulerEnvironment(
        Ticker.system(),
        System::currentTimeMillis,
        nice.wrap(Executors.defaultThreadFactory()),
        timer,
        observers,
        Duration.ZERO);
  }

  /**
   * The options of a scheduler in this environment: its ticker, worker threads, timer and worker
   * idle time, with the other settings at their defaults ({@link ModelScheduler.Options#of}).
   */
  public ModelScheduler.Options schedulerOptions() {
    return ModelScheduler.Options.of(timer)
        .withTicker(ticker)
        .withThreads(workerThreads)
        .withWorkerIdle(workerIdle);
  }

  /** This environment with worker threads that end after {@code idle} without work (0: never). */
  public SchedulerEnvironment withWorkerIdle(Duration idle) {
    return new SchedulerEnvironment(ticker, wallClockMillis, workerThreads, timer, observers, idle);
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
