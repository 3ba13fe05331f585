package dev.fulcrum.core.stats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.fulcrum.core.scheduler.SloCapacity;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The capacity stated as the lower of the pass bound and the process's CPU bound ({@link
 * SloAccounting.Load#of}), and the process's CPU use it is from ({@link ProcessCpu}), on synthetic
 * inputs: every figure is worked by hand.
 */
class CapacityBoundTest {
  private static final long S = 1_000_000_000L;
  private static final long MS = 1_000_000L;

  /** A pass bound of {@code rows} rows a second at a 20 ms objective. */
  private static SloCapacity passes(double rows) {
    return new SloCapacity(SloCapacity.State.KNOWN, rows, 8, 20 * MS);
  }

  private static ProcessCpu.Usage cpu(double u, int cores) {
    return new ProcessCpu.Usage(u, cores, 10);
  }

  @Test
  void theModelBindsWhenItsPassesFillBeforeTheCores() {
    // Pass bound 1,000 requests a second; 600 offered at 30 % of the cores: the cores would allow
    // 2,000 a second, so the passes bind and the ratio is the pass load, 0.6.
    SloAccounting.Load l = SloAccounting.Load.of(passes(1_000), 1, 600, cpu(0.3, 4));
    assertThat(l.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(l.passesPerSecond()).isCloseTo(1_000, within(1e-9));
    assertThat(l.cpuPerSecond()).isCloseTo(2_000, within(1e-9));
    assertThat(l.capacityPerSecond()).isCloseTo(1_000, within(1e-9));
    assertThat(l.ratio()).isCloseTo(0.6, within(1e-9));
  }

  @Test
  void theCoresBindWhenTheTransportCostsMoreThanThePasses() {
    // The fraud case: passes of ~12 µs state 428,484 a second, but 5,000 offered take 80 % of the
    // cores: they allow 6,250 a second, the capacity stated, and the ratio is the utilization.
    SloAccounting.Load l = SloAccounting.Load.of(passes(428_484), 1, 5_000, cpu(0.8, 2));
    assertThat(l.bound()).isEqualTo(SloAccounting.Bound.CPU);
    assertThat(l.capacityPerSecond()).isCloseTo(6_250, within(1e-9));
    assertThat(l.ratio()).isCloseTo(0.8, within(1e-9));
    // Full cores: the ratio reaches 1, whatever the pass bound says.
    SloAccounting.Load full = SloAccounting.Load.of(passes(428_484), 1, 6_500, cpu(1, 2));
    assertThat(full.capacityPerSecond()).isCloseTo(6_500, within(1e-9));
    assertThat(full.ratio()).isCloseTo(1, within(1e-9));
  }

  @Test
  void belowTheFloorOrUnknownOnlyThePassBoundIsStated() {
    SloAccounting.Load idle = SloAccounting.Load.of(passes(1_000), 1, 2, cpu(0.01, 2));
    assertThat(idle.cpuPerSecond()).as("1 %% of the cores: no extrapolation").isNaN();
    assertThat(idle.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(idle.capacityPerSecond()).isCloseTo(1_000, within(1e-9));
    assertThat(idle.ratio()).isCloseTo(0.002, within(1e-12));
    SloAccounting.Load unknown =
        SloAccounting.Load.of(passes(1_000), 1, 500, ProcessCpu.Usage.UNKNOWN);
    assertThat(unknown.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(unknown.capacityPerSecond()).isCloseTo(1_000, within(1e-9));
    // Nothing offered: no CPU bound either (the CPU is not the requests').
    assertThat(SloAccounting.Load.of(passes(1_000), 1, 0, cpu(0.5, 2)).cpuPerSecond()).isNaN();
  }

  @Test
  void whileThePassesAreLearningOrTooTightTheCpuDoesNotStateACapacity() {
    SloCapacity learning = new SloCapacity(SloCapacity.State.LEARNING, 0, 0, 20 * MS);
    SloAccounting.Load l = SloAccounting.Load.of(learning, 1, 500, cpu(0.5, 2));
    assertThat(l.capacityPerSecond()).isNaN();
    assertThat(l.ratio()).isNaN();
    SloCapacity tight = new SloCapacity(SloCapacity.State.TOO_TIGHT, 0, 0, 20 * MS);
    SloAccounting.Load t = SloAccounting.Load.of(tight, 1, 500, cpu(0.5, 2));
    assertThat(t.capacityPerSecond()).isZero();
    assertThat(t.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(t.ratio()).isNaN();
  }

  @Test
  void severalModelsEachScaleTheirOwnRateByTheProcesssUtilization() {
    // Two models in one process at 60 % of its 4 cores: 900 and 100 requests a second. Each one's
    // CPU bound is its rate when both grow in proportion until the cores are full: 1,500 and 167.
    ProcessCpu.Usage shared = cpu(0.6, 4);
    SloAccounting.Load a = SloAccounting.Load.of(passes(100_000), 1, 900, shared);
    SloAccounting.Load b = SloAccounting.Load.of(passes(100_000), 1, 100, shared);
    assertThat(a.capacityPerSecond()).isCloseTo(1_500, within(1e-9));
    assertThat(b.capacityPerSecond()).isCloseTo(100 / 0.6, within(1e-9));
    assertThat(a.ratio()).isCloseTo(0.6, within(1e-9));
    assertThat(b.ratio()).isCloseTo(0.6, within(1e-9));
    // A model whose passes bind first keeps the pass load, above the process's utilization.
    SloAccounting.Load heavy = SloAccounting.Load.of(passes(120), 1, 100, shared);
    assertThat(heavy.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(heavy.ratio()).isCloseTo(100 / 120.0, within(1e-9));
  }

  @Test
  void requestsOfSeveralRowsDivideTheRowCapacity() {
    SloAccounting.Load l = SloAccounting.Load.of(passes(1_000), 4, 100, cpu(0.5, 2));
    assertThat(l.passesPerSecond()).isCloseTo(250, within(1e-9));
    assertThat(l.cpuPerSecond()).isCloseTo(200, within(1e-9));
    assertThat(l.bound()).isEqualTo(SloAccounting.Bound.CPU);
    assertThat(l.rowsPerRequest()).isEqualTo(4);
  }

  @Test
  void theProcessCpuIsTheCpuTimeOverTheWallTimeAndTheCoresOfAboutTheLastTenSeconds() {
    AtomicLong wall = new AtomicLong(100 * S);
    AtomicLong cpu = new AtomicLong(0);
    ProcessCpu p = new ProcessCpu(wall::get, cpu::get, () -> 2);
    assertThat(p.usage().utilization()).as("the first reading has nothing before it").isNaN();
    wall.addAndGet(S / 2);
    assertThat(p.usage().utilization()).as("half a second: too short").isNaN();
    // One core busy for 4 s of wall time on 2 cores: 50 %.
    for (int i = 0; i < 4; i++) {
      wall.addAndGet(S);
      cpu.addAndGet(S);
    }
    ProcessCpu.Usage u = p.usage();
    assertThat(u.utilization()).isCloseTo(4.0 / (4.5 * 2), within(1e-9));
    assertThat(u.cores()).isEqualTo(2);
    // A reading a second for 20 s, both cores busy: the window forgets the quieter start.
    for (int i = 0; i < 20; i++) {
      wall.addAndGet(S);
      cpu.addAndGet(2 * S);
      p.usage();
    }
    ProcessCpu.Usage busy = p.usage();
    assertThat(busy.utilization()).isCloseTo(1, within(1e-9));
    assertThat(busy.seconds()).isBetween(10.0, 11.0);
    // A scrape 30 s later, idle meanwhile: the mean over the interval, 0.
    wall.addAndGet(30 * S);
    assertThat(p.usage().utilization()).isCloseTo(0, within(1e-9));
    assertThat(ProcessCpu.NONE.usage().utilization()).isNaN();
  }

  @Test
  void readingsTakenAsRequestsComeSpanTheWindowBetweenTwoReads() {
    AtomicLong wall = new AtomicLong(0);
    AtomicLong cpu = new AtomicLong(0);
    ProcessCpu p = new ProcessCpu(wall::get, cpu::get, () -> 2);
    // Requests for 20 s at one core, a reading each second; nothing reads the utilization.
    for (int i = 0; i < 20; i++) {
      p.record();
      wall.addAndGet(S);
      cpu.addAndGet(S);
    }
    // The first read, 2 s after the requests stopped (at 22 s): since the reading at 12 s, not the
    // first one at 0 nor nothing at all: 8 s busy of 10, on 2 cores.
    wall.addAndGet(2 * S);
    ProcessCpu.Usage u = p.usage();
    assertThat(u.seconds()).isCloseTo(10, within(1e-9));
    assertThat(u.utilization()).isCloseTo(8.0 / 20, within(1e-9));
  }
}
