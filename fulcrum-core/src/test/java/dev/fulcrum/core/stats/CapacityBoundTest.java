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

  /** {@code own} cores busy of {@code cpus}, nothing else known (no /proc/stat, no limit). */
  private static ProcessCpu.Usage cpu(double own, int cpus) {
    return new ProcessCpu.Usage(own, Double.NaN, Double.NaN, cpus, 10);
  }

  @Test
  void theModelBindsWhenItsPassesFillBeforeTheCores() {
    // Pass bound 1,000 requests a second; 600 offered with 1.15 of 4 cores busy: beyond the
    // background allowance (5 % of 4: 0.2) that is 0.95 of 3.8, a CPU load of 0.25, so the cores
    // would allow 2,400 a second; the passes bind and the ratio is the pass load, 0.6.
    SloAccounting.Load l = SloAccounting.Load.of(passes(1_000), 1, 600, cpu(1.15, 4));
    assertThat(l.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(l.cpuState()).isEqualTo(SloAccounting.CpuState.KNOWN);
    assertThat(l.passesPerSecond()).isCloseTo(1_000, within(1e-9));
    assertThat(l.cpuLoad()).isCloseTo(0.25, within(1e-9));
    assertThat(l.cpuPerSecond()).isCloseTo(2_400, within(1e-6));
    assertThat(l.capacityPerSecond()).isCloseTo(1_000, within(1e-9));
    assertThat(l.ratio()).isCloseTo(0.6, within(1e-9));
  }

  @Test
  void theCoresBindWhenTheTransportCostsMoreThanThePasses() {
    // The fraud case: passes of ~12 µs state 428,484 a second, but 5,000 offered keep 1.05 of 2
    // cores busy: 0.95 of 1.9 beyond the allowance, half; they allow 10,000 a second, the capacity
    // stated, and the ratio is the CPU load.
    SloAccounting.Load l = SloAccounting.Load.of(passes(428_484), 1, 5_000, cpu(1.05, 2));
    assertThat(l.bound()).isEqualTo(SloAccounting.Bound.CPU);
    assertThat(l.capacityPerSecond()).isCloseTo(10_000, within(1e-6));
    assertThat(l.ratio()).isCloseTo(0.5, within(1e-9));
    // A full budget: the ratio reaches 1, whatever the pass bound says.
    SloAccounting.Load full = SloAccounting.Load.of(passes(428_484), 1, 6_500, cpu(2, 2));
    assertThat(full.capacityPerSecond()).isCloseTo(6_500, within(1e-9));
    assertThat(full.ratio()).isCloseTo(1, within(1e-9));
  }

  @Test
  void aCpuLimitIsTheBudgetExactlyNotRoundedUp() {
    // A pod limited to 1.5 cores on a node of 8 (the JVM counts 2: availableProcessors rounds the
    // quota up). 0.8 busy: 0.725 beyond the allowance (5 % of 1.5) of 1.425.
    ProcessCpu.Usage limited = new ProcessCpu.Usage(0.8, 0.5, 1.5, 8, 10);
    assertThat(limited.allowedCores()).isEqualTo(1.5);
    assertThat(limited.budgetCores()).as("others use 0.5 of 8: the quota binds").isEqualTo(1.5);
    SloAccounting.Load l = SloAccounting.Load.of(passes(1e6), 1, 1_000, limited);
    assertThat(l.cpuLoad()).isCloseTo(0.725 / 1.425, within(1e-12));
    assertThat(l.capacityPerSecond()).isCloseTo(1_000 * 1.425 / 0.725, within(1e-6));
    // On a busy node the cores others leave bind before the quota: 16 cores, a limit of 2.
    assertThat(new ProcessCpu.Usage(0.5, 10, 2, 16, 10).budgetCores()).isEqualTo(2);
    assertThat(new ProcessCpu.Usage(0.5, 15, 2, 16, 10).budgetCores()).isEqualTo(1);
  }

  @Test
  void onASharedMachineWhatOthersUseIsNotTheServers() {
    // bench/capacity.sh's case: 2 cores, the load generator keeping one busy, the server 0.95.
    // Counting both cores as the server's stated twice its real capacity; its budget is the core
    // the client leaves: 0.85 beyond the allowance of 0.9, so 37,000 offered is near the capacity.
    ProcessCpu.Usage shared = new ProcessCpu.Usage(0.95, 1.0, Double.NaN, 2, 10);
    assertThat(shared.budgetCores()).isEqualTo(1);
    SloAccounting.Load l = SloAccounting.Load.of(passes(428_484), 1, 37_000, shared);
    assertThat(l.bound()).isEqualTo(SloAccounting.Bound.CPU);
    assertThat(l.cpuLoad()).isCloseTo(0.85 / 0.9, within(1e-12));
    assertThat(l.capacityPerSecond()).isCloseTo(37_000 * 0.9 / 0.85, within(1e-6));
    SloAccounting.Load alone = SloAccounting.Load.of(passes(428_484), 1, 37_000, cpu(0.95, 2));
    assertThat(alone.capacityPerSecond())
        .as("the cores counted as the server's alone")
        .isCloseTo(37_000 * 1.9 / 0.85, within(1e-6));
    // Others reading more than the CPUs leave it (their use and its own are read apart): the
    // budget is what it got, so the load is 1, not above.
    ProcessCpu.Usage crowded = new ProcessCpu.Usage(0.8, 1.5, Double.NaN, 2, 10);
    assertThat(crowded.budgetCores()).isEqualTo(0.8);
    assertThat(SloAccounting.Load.of(passes(1e6), 1, 100, crowded).ratio())
        .isCloseTo(1, within(1e-12));
  }

  @Test
  void belowTheBackgroundAllowanceTheCpuIsIdleAndOnlyThePassBoundIsStated() {
    // 0.06 of 2 cores busy: under the allowance of 0.1, not the requests' CPU.
    SloAccounting.Load idle = SloAccounting.Load.of(passes(1_000), 1, 2, cpu(0.06, 2));
    assertThat(idle.cpuState()).isEqualTo(SloAccounting.CpuState.IDLE);
    assertThat(idle.cpuPerSecond()).as("no extrapolation").isNaN();
    assertThat(idle.cpuLoad()).isZero();
    assertThat(idle.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(idle.capacityPerSecond()).isCloseTo(1_000, within(1e-9));
    assertThat(idle.ratio()).isCloseTo(0.002, within(1e-12));
    SloAccounting.Load unknown =
        SloAccounting.Load.of(passes(1_000), 1, 500, ProcessCpu.Usage.UNKNOWN);
    assertThat(unknown.cpuState()).isEqualTo(SloAccounting.CpuState.UNKNOWN);
    assertThat(unknown.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(unknown.capacityPerSecond()).isCloseTo(1_000, within(1e-9));
    // Nothing offered: no CPU bound either (the CPU is not this version's requests').
    SloAccounting.Load none = SloAccounting.Load.of(passes(1_000), 1, 0, cpu(1, 2));
    assertThat(none.cpuPerSecond()).isNaN();
    assertThat(none.cpuState()).isEqualTo(SloAccounting.CpuState.IDLE);
  }

  @Test
  void theRatioAndTheCapacityMoveWithoutAStepAcrossTheAllowance() {
    // A model with a high pass bound (fraud's) at a rate in proportion to its CPU: own = 0.02 +
    // r / 10,000 cores of 2. Swept from idle to full in steps of 1 % of a core: the ratio never
    // falls and never jumps more than the step's share of the budget (the old 5 % floor jumped
    // from the pass load, ~0, to 0.05, and the capacity from 428,484 to 20 x the offered rate).
    double lastRatio = 0;
    double lastCapacity = Double.NaN;
    for (int i = 0; i <= 198; i++) {
      double own = 0.02 + i * 0.01;
      double offered = (own - 0.02) * 10_000;
      SloAccounting.Load l = SloAccounting.Load.of(passes(428_484), 1, offered, cpu(own, 2));
      double ratio = l.ratio();
      assertThat(ratio).as("own %s", own).isGreaterThanOrEqualTo(lastRatio - 1e-12);
      assertThat(ratio - lastRatio).as("own %s", own).isLessThan(0.02);
      if (Double.isFinite(lastCapacity) && lastCapacity < 428_484) {
        assertThat(l.capacityPerSecond()).as("own %s", own).isLessThanOrEqualTo(lastCapacity);
      }
      lastRatio = ratio;
      lastCapacity = l.capacityPerSecond();
    }
    assertThat(lastRatio).isCloseTo(1, within(1e-9));
    // Just above the allowance the CPU bound is far above the passes': they bind, and the capacity
    // stated is theirs, as just below it.
    SloAccounting.Load above = SloAccounting.Load.of(passes(428_484), 1, 10, cpu(0.100001, 2));
    assertThat(above.cpuState()).isEqualTo(SloAccounting.CpuState.KNOWN);
    assertThat(above.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(above.capacityPerSecond()).isCloseTo(428_484, within(1e-6));
  }

  @Test
  void whileThePassesAreLearningOrTooTightTheCpuDoesNotStateACapacity() {
    SloCapacity learning = new SloCapacity(SloCapacity.State.LEARNING, 0, 0, 20 * MS);
    SloAccounting.Load l = SloAccounting.Load.of(learning, 1, 500, cpu(1, 2));
    assertThat(l.capacityPerSecond()).isNaN();
    assertThat(l.ratio()).isNaN();
    SloCapacity tight = new SloCapacity(SloCapacity.State.TOO_TIGHT, 0, 0, 20 * MS);
    SloAccounting.Load t = SloAccounting.Load.of(tight, 1, 500, cpu(1, 2));
    assertThat(t.capacityPerSecond()).isZero();
    assertThat(t.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(t.ratio()).isNaN();
  }

  @Test
  void severalModelsEachScaleTheirOwnRateByTheProcesssCpuLoad() {
    // Two models in one process with 2.1 of its 4 cores busy, a CPU load of 0.5: 900 and 100
    // requests a second. Each one's CPU bound is its rate when both grow in proportion until the
    // budget is full: 1,800 and 200.
    ProcessCpu.Usage shared = cpu(2.1, 4);
    SloAccounting.Load a = SloAccounting.Load.of(passes(100_000), 1, 900, shared);
    SloAccounting.Load b = SloAccounting.Load.of(passes(100_000), 1, 100, shared);
    assertThat(a.capacityPerSecond()).isCloseTo(1_800, within(1e-6));
    assertThat(b.capacityPerSecond()).isCloseTo(200, within(1e-6));
    assertThat(a.ratio()).isCloseTo(0.5, within(1e-9));
    assertThat(b.ratio()).isCloseTo(0.5, within(1e-9));
    // A model whose passes bind first keeps the pass load, above the process's CPU load.
    SloAccounting.Load heavy = SloAccounting.Load.of(passes(120), 1, 100, shared);
    assertThat(heavy.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(heavy.ratio()).isCloseTo(100 / 120.0, within(1e-9));
  }

  @Test
  void requestsOfSeveralRowsDivideTheRowCapacity() {
    SloAccounting.Load l = SloAccounting.Load.of(passes(1_000), 4, 100, cpu(1.05, 2));
    assertThat(l.passesPerSecond()).isCloseTo(250, within(1e-9));
    assertThat(l.cpuPerSecond()).isCloseTo(200, within(1e-9));
    assertThat(l.bound()).isEqualTo(SloAccounting.Bound.CPU);
    assertThat(l.rowsPerRequest()).isEqualTo(4);
  }

  /** {@code own} of 2 cores busy with the cgroup's CPU pressure {@code p} (PSI) known. */
  private static ProcessCpu.Usage pressured(double own, double others, double p) {
    return new ProcessCpu.Usage(
        own, others, Double.NaN, 2, 10, p, ProcessCpu.PressureScope.CGROUP, Double.NaN, Double.NaN);
  }

  /** The window's requests the objective applies to and misses for load, at the 99th percentile. */
  private static SloAccounting.Observed seen(long requests, long loadMisses) {
    return new SloAccounting.Observed(requests, loadMisses, 99);
  }

  @Test
  void aReplicaRefusingForLoadReadsPastFullWhateverTheModelsSay() {
    // The shape session 39 recorded: the fraud model's passes would take 428,484 a second, the
    // server in a cgroup of its own on a node kept busy by others; it runs 0.4 of 2 cores and its
    // tasks waited 5 % of the time (each wake-up waits, but it is seldom runnable), so the budget
    // reads 0.4 + 1.6 x 0.95 = 1.92 cores and the CPU load (0.4 - 0.1) / (1.92 - 0.1) = 0.165.
    // Meanwhile the policy refuses 68 % of the 3,000 a second offered for the objective.
    ProcessCpu.Usage cpu = pressured(0.4, 1.5, 0.05);
    SloAccounting.Load models = SloAccounting.Load.of(passes(428_484), 1, 3_000, cpu);
    assertThat(models.ratio()).as("the models alone").isCloseTo(0.3 / 1.82, within(1e-9));

    SloAccounting.Load l =
        SloAccounting.Load.of(passes(428_484), 1, 3_000, cpu, seen(30_000, 20_400));
    // Taken: 9,600 of 30,000; at the 99th percentile the capacity is at most 9,600 / 0.99 over
    // the 10 s, so the load is 0.99 x 30,000 / 9,600.
    assertThat(l.bound()).isEqualTo(SloAccounting.Bound.OBSERVED);
    assertThat(l.ratio()).isCloseTo(0.99 * 30_000 / 9_600, within(1e-9)).isGreaterThan(3);
    assertThat(l.capacityPerSecond()).isCloseTo(3_000 / (0.99 * 30_000 / 9_600), within(1e-9));
    assertThat(l.observedPerSecond()).isEqualTo(l.capacityPerSecond());
    // The two models' figures are still reported, unchanged.
    assertThat(l.cpuLoad()).isEqualTo(models.cpuLoad());
    assertThat(l.cpuPerSecond()).isEqualTo(models.cpuPerSecond());
    assertThat(l.passesPerSecond()).isEqualTo(models.passesPerSecond());
  }

  @Test
  void withinTheObjectivesAllowanceTheModelsAloneStateTheCapacity() {
    ProcessCpu.Usage cpu = pressured(0.4, 1.5, 0.05);
    double models = 0.3 / 1.82;
    // 1 % of 30,000 may miss at the 99th percentile: 200, then exactly 300, are within it.
    for (long misses : new long[] {0, 200, 300}) {
      SloAccounting.Load l =
          SloAccounting.Load.of(passes(428_484), 1, 3_000, cpu, seen(30_000, misses));
      assertThat(l.observed().missed()).as("%s misses", misses).isFalse();
      assertThat(l.bound()).isEqualTo(SloAccounting.Bound.CPU);
      assertThat(l.ratio()).isCloseTo(models, within(1e-9));
      assertThat(l.observedPerSecond()).isNaN();
    }
    // One more and the objective is missed: the ratio steps to 1 (and a little more), no lower.
    SloAccounting.Load past =
        SloAccounting.Load.of(passes(428_484), 1, 3_000, cpu, seen(30_000, 301));
    assertThat(past.bound()).isEqualTo(SloAccounting.Bound.OBSERVED);
    assertThat(past.ratio()).isCloseTo(0.99 * 30_000 / 29_699, within(1e-12)).isGreaterThan(1);
    // The more refused, the higher the load, without limit but finite when all are refused.
    double last = past.ratio();
    for (long misses : new long[] {1_000, 10_000, 20_000, 29_000, 29_999}) {
      double r =
          SloAccounting.Load.of(passes(428_484), 1, 3_000, cpu, seen(30_000, misses)).ratio();
      assertThat(r).as("%s misses", misses).isGreaterThan(last).isFinite();
      last = r;
    }
    SloAccounting.Load all =
        SloAccounting.Load.of(passes(428_484), 1, 3_000, cpu, seen(30_000, 30_000));
    assertThat(all.ratio()).as("all refused: as if one was taken").isCloseTo(last, within(1e-9));
  }

  @Test
  void aFewRefusalsAtATrickleAreABurstNotACapacity() {
    // 5 a second offered, 50 in the window: 9 refused is past the 1 % allowance but below the
    // minimum of 10 misses; 10 is not.
    SloAccounting.Load few = SloAccounting.Load.of(passes(1_000), 1, 5, cpu(0.06, 2), seen(50, 9));
    assertThat(few.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(few.ratio()).isCloseTo(0.005, within(1e-12));
    SloAccounting.Load ten = SloAccounting.Load.of(passes(1_000), 1, 5, cpu(0.06, 2), seen(50, 10));
    assertThat(ten.bound()).isEqualTo(SloAccounting.Bound.OBSERVED);
    assertThat(ten.ratio()).isCloseTo(0.99 * 50 / 40, within(1e-12));
    assertThat(SloAccounting.MIN_LOAD_MISSES).isEqualTo(10);
  }

  @Test
  void theObservedBoundOnlyEverLowersTheCapacity() {
    // Passes that take 1,000 a second offered 3,000: a pass load of 3, above the 1.24 observed.
    SloAccounting.Load l =
        SloAccounting.Load.of(passes(1_000), 1, 3_000, cpu(1, 2), seen(30_000, 6_000));
    assertThat(l.observed().ratio()).isCloseTo(0.99 * 30_000 / 24_000, within(1e-12));
    assertThat(l.bound()).isEqualTo(SloAccounting.Bound.PASSES);
    assertThat(l.ratio()).isCloseTo(3, within(1e-9));
    // Learning: nothing stated, whatever is refused; too tight: 0 and no ratio (more replicas do
    // not help an objective no batch size meets).
    SloCapacity learning = new SloCapacity(SloCapacity.State.LEARNING, 0, 0, 20 * MS);
    SloAccounting.Load cold =
        SloAccounting.Load.of(learning, 1, 3_000, cpu(1, 2), seen(30_000, 20_000));
    assertThat(cold.capacityPerSecond()).isNaN();
    assertThat(cold.ratio()).isNaN();
    SloCapacity tight = new SloCapacity(SloCapacity.State.TOO_TIGHT, 0, 0, 20 * MS);
    SloAccounting.Load t = SloAccounting.Load.of(tight, 1, 3_000, cpu(1, 2), seen(30_000, 20_000));
    assertThat(t.capacityPerSecond()).isZero();
    assertThat(t.ratio()).isNaN();
    // An idle replica refuses nothing: idle it stays.
    SloAccounting.Load idle = SloAccounting.Load.of(passes(1_000), 1, 0, cpu(0.06, 2), seen(0, 0));
    assertThat(idle.cpuState()).isEqualTo(SloAccounting.CpuState.IDLE);
    assertThat(idle.observedPerSecond()).isNaN();
    assertThat(idle.ratio()).isZero();
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
    assertThat(u.ownCores()).isCloseTo(4.0 / 4.5, within(1e-9));
    assertThat(u.utilization()).isCloseTo(4.0 / (4.5 * 2), within(1e-9));
    assertThat(u.cpus()).isEqualTo(2);
    assertThat(u.othersCores()).as("no machine readings").isNaN();
    assertThat(u.budgetCores()).isEqualTo(2);
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

  @Test
  void otherProcessesUseIsTheMachinesBusyTimeLessTheProcesssOwn() {
    // A fake host of 2 CPUs: ticks of 10 ms (any unit does), a quota changing under it. The
    // readings are injected; no clock but the one moved here.
    AtomicLong wall = new AtomicLong(0);
    long[] state = {0, 0, 0}; // process ns, busy ticks, total ticks
    double[] quota = {Double.NaN};
    AtomicLong reads = new AtomicLong();
    ProcessCpu p =
        new ProcessCpu(
            wall::get,
            () -> {
              reads.incrementAndGet();
              return new ProcessCpu.Reading(state[0], state[1], state[2], 2, quota[0]);
            });
    p.usage();
    // 4 s: the server 0.9 of a core, the machine 1.9 busy of 2 (a client beside it: 1.0).
    for (int i = 0; i < 4; i++) {
      wall.addAndGet(S);
      state[0] += 900 * MS;
      state[1] += 190;
      state[2] += 200;
      p.record();
    }
    ProcessCpu.Usage u = p.usage();
    assertThat(u.ownCores()).isCloseTo(0.9, within(1e-9));
    assertThat(u.othersCores()).isCloseTo(1.0, within(1e-9));
    assertThat(u.budgetCores()).isCloseTo(1.0, within(1e-9));
    assertThat(u.quotaCores()).isNaN();
    // A limit of half a core set meanwhile: it is the budget at once (the newest reading's).
    quota[0] = 0.5;
    wall.addAndGet(S);
    state[0] += 500 * MS;
    state[1] += 150;
    state[2] += 200;
    ProcessCpu.Usage limited = p.usage();
    assertThat(limited.quotaCores()).isEqualTo(0.5);
    assertThat(limited.allowedCores()).isEqualTo(0.5);
    assertThat(limited.budgetCores()).as("at least what it got").isCloseTo(4.1 / 5, within(1e-9));
    // Reads come as often as the dashboard and scrapes ask, the source is read at most every
    // 250 ms; record() reads it only for a reading it keeps.
    long before = reads.get();
    for (int i = 0; i < 10; i++) {
      p.usage();
      p.record();
    }
    assertThat(reads.get()).isEqualTo(before);
    wall.addAndGet(300 * MS);
    p.usage();
    p.record();
    assertThat(reads.get()).isEqualTo(before + 1);
  }

  @Test
  void aRequestsThreadOnlyHandsTheReadingToTheReader() {
    AtomicLong wall = new AtomicLong(0);
    AtomicLong reads = new AtomicLong();
    java.util.List<Runnable> handed = new java.util.ArrayList<>();
    ProcessCpu p =
        new ProcessCpu(
            wall::get,
            () -> ProcessCpu.Reading.processOnly(reads.incrementAndGet() * S, 2),
            handed::add);
    p.record();
    p.record();
    assertThat(handed).as("one reading pending at a time").hasSize(1);
    assertThat(reads.get()).as("nothing read on the caller's thread").isZero();
    handed.removeFirst().run();
    assertThat(reads.get()).isEqualTo(1);
    p.record();
    assertThat(handed).as("the one kept is not a second old").isEmpty();
    wall.addAndGet(S);
    p.record();
    assertThat(handed).hasSize(1);
  }
}
