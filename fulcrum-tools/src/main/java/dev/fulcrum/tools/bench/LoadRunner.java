package dev.fulcrum.tools.bench;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Runs one load level perf_analyzer-style: warm-up, then windows until the last three are stable or
 * the window budget is spent, then a drain; confined to the calling thread.
 */
final class LoadRunner {
  /** The knobs of a measurement. */
  record Settings(
      Duration warmup,
      Duration window,
      double stabilityPercent,
      int maxWindows,
      Duration drainTimeout,
      int maxOutstanding,
      boolean randomOrder,
      long seed) {}

  private final Settings settings;
  private final LongSupplier clock;
  private final Supplier<Optional<ServerStats>> serverStats;
  private final Consumer<String> progress;

  /**
   * @param serverStats cumulative server counters, read before and after measuring
   * @param progress receives a one-line status about once a second
   */
  LoadRunner(
      Settings settings,
      LongSupplier clock,
      Supplier<Optional<ServerStats>> serverStats,
      Consumer<String> progress) {
    this.settings = settings;
    this.clock = clock;
    this.serverStats = serverStats;
    this.progress = progress;
  }

  LevelResult run(String target, Transport transport, Load load, int batch)
      throws InterruptedException {
    LatencyRecorder recorder = new LatencyRecorder(clock);
    LoadDriver driver =
        new LoadDriver(
            transport,
            recorder,
            clock,
            settings.randomOrder(),
            settings.maxOutstanding(),
            settings.seed());
    StabilityRule rule = new StabilityRule(settings.stabilityPercent());
    driver.start(load);
    List<WindowStats> windows = new ArrayList<>();
    boolean stable = false;
    Optional<ServerStats> before = Optional.empty();
    long cpu0 = 0;
    long wall0 = 0;
    try {
      tick(target, load, "warm-up", settings.warmup(), driver, windows);
      recorder.cut();
      before = serverStats.get();
      cpu0 = processCpuNanos();
      wall0 = System.nanoTime();
      while (windows.size() < settings.maxWindows()) {
        tick(target, load, "window " + (windows.size() + 1), settings.window(), driver, windows);
        windows.add(recorder.cut());
        if (rule.isStable(windows)) {
          stable = true;
          break;
        }
      }
    } finally {
      driver.stop(settings.drainTimeout().toNanos());
    }
    double cpu =
        (processCpuNanos() - cpu0)
            / (double) Math.max(1, System.nanoTime() - wall0)
            / Runtime.getRuntime().availableProcessors();
    Optional<ServerStats> after = serverStats.get();
    ServerStats.Split split =
        before.isPresent() && after.isPresent() ? after.get().since(before.get()) : null;
    List<WindowStats> last =
        windows.subList(Math.max(0, windows.size() - StabilityRule.WINDOWS), windows.size());
    return new LevelResult(
        target,
        load,
        WindowStats.merge(last),
        stable,
        windows.size(),
        batch,
        driver.sent(),
        driver.completed(),
        driver.errors(),
        cpu,
        split,
        last.stream().map(WindowStats::throughput).toList());
  }

  private void tick(
      String target,
      Load load,
      String phase,
      Duration length,
      LoadDriver driver,
      List<WindowStats> windows)
      throws InterruptedException {
    long end = System.nanoTime() + length.toNanos();
    while (true) {
      long left = end - System.nanoTime();
      if (left <= 0) {
        return;
      }
      Thread.sleep(Math.max(1, Math.min(1000, left / 1_000_000)));
      String last =
          windows.isEmpty()
              ? ""
              : String.format(
                  "  last: %.0f req/s p99 %.2f ms",
                  windows.get(windows.size() - 1).throughput(),
                  windows.get(windows.size() - 1).latency().getValueAtPercentile(99) / 1e6);
      progress.accept(
          String.format(
              "%s %s %s: sent %d, done %d, errors %d, in flight %d%s",
              target,
              load.label(),
              phase,
              driver.sent(),
              driver.completed(),
              driver.errors(),
              driver.inFlight(),
              last));
    }
  }

  static long processCpuNanos() {
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      return Math.max(0, os.getProcessCpuTime());
    }
    return 0;
  }
}
