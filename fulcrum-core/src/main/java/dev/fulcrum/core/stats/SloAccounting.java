package dev.fulcrum.core.stats;

import dev.fulcrum.core.config.SloConfig;
import dev.fulcrum.core.scheduler.PolicyState;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import dev.fulcrum.core.scheduler.SloCapacity;
import dev.fulcrum.core.scheduler.Ticker;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Live accounting of one model version against its latency objective and price: SLO attainment,
 * latency percentiles, throughput, utilization and cost per million predictions, over rolling
 * windows of 10, 60 and 300 seconds and since the version started, and the offered load against
 * what the version can serve within its objective ({@link Snapshot#load}, from {@link
 * SloCapacity}). The dashboard, the {@code /slo} endpoint and the Prometheus metrics all read
 * {@link #snapshot(PolicyState)}.
 *
 * <p>Design: one bucket per second of the scheduler's clock, in a ring of {@value
 * #LONGEST_WINDOW_SECONDS} + 2 seconds, each with its counts, its compute time and a log-bucketed
 * histogram of the latencies of the requests answered in it; a window merges its buckets at read
 * time: the W whole seconds before the second in progress and that second (W to W + 1 seconds of
 * wall time, which its figures are computed over). A request counts in the second it left the
 * scheduler. Attainment is requests answered successfully within the objective (admission to
 * completion, as the scheduler measures it) over all that ended: rejections (queue full or SLO) and
 * timeouts count as misses, cancellations do not count; a response-cache hit counts as answered in
 * its lookup time; a request of class {@code best_effort}, to which the objective does not apply
 * (it waits behind every other), is left out of attainment and counted in everything else.
 * Utilization is compute time (the batches' join, pass and split) over wall time times instances.
 * Cost per million predictions is the price per second times the window's wall time times this
 * model's share of the machine's compute time in the window (its compute time over all models',
 * from the shared {@link ComputeLedger}), per prediction (batch row) answered, times 10^6: idle
 * time is paid for too, by the models that ran. Numerator and denominator cover the same time: for
 * the {@code start} window, and any window the version is younger than, both the wall time and the
 * machine's compute time count from the version's start (the ledger's running total then less its
 * total when the version started).
 *
 * <p>Thread-safe: observer calls come from worker and transport threads; one monitor guards the
 * ring, held only to update a bucket or copy a window; the observed bound held is a volatile value
 * replaced whole at reads and at the roll into a new second.
 */
public final class SloAccounting implements SchedulerObserver {
  /** The rolling windows, in seconds. */
  public static final List<Integer> WINDOWS_SECONDS = List.of(10, 60, 300);

  static final int LONGEST_WINDOW_SECONDS = 300;
  private static final int SECONDS = ComputeLedger.SECONDS;

  /** Latency histogram: bucket i holds latencies up to 10 µs · GROWTH^i. */
  private static final double GROWTH = 1.1;

  private static final double FIRST_BOUND_NANOS = 10_000;
  private static final int LATENCY_BUCKETS = 180; // up to about 10 µs · 1.1^179 ≈ 260 s

  /**
   * The accounting over one window.
   *
   * @param window {@code 10s}, {@code 60s}, {@code 300s} or {@code start}
   * @param seconds the wall time it covers (less than its length while the version is younger)
   * @param requests requests that ended (answered, failed, timed out or refused)
   * @param bestEffort of those, requests of class {@code best_effort}, left out of attainment
   * @param withinSlo requests the objective applies to answered within it (all such successes
   *     without an objective)
   * @param rejected requests refused without running (queue full or SLO)
   * @param sloRejected of those, refused or dropped for the objective
   * @param timedOut requests whose queue timeout passed
   * @param loadMisses requests the objective applies to (best-effort ones left out) that were
   *     refused (queue full or SLO) or timed out in the queue: the misses the scheduler puts down
   *     to the work ahead of them, what the observed bound is from ({@link Observed})
   * @param attainment withinSlo / (requests - bestEffort) (NaN without such requests or without an
   *     objective)
   * @param p50Ms latency percentiles of the requests answered successfully (NaN without any)
   * @param predictions rows answered successfully
   * @param throughput predictions per second
   * @param utilization compute time over wall time times instances
   * @param costPerMillionUsd USD per million predictions (NaN when unpriced or without any)
   */
  public record Window(
      String window,
      double seconds,
      long requests,
      long bestEffort,
      long withinSlo,
      long rejected,
      long sloRejected,
      long timedOut,
      long loadMisses,
      double attainment,
      double p50Ms,
      double p95Ms,
      double p99Ms,
      long predictions,
      double throughput,
      double utilization,
      double costPerMillionUsd) {}

  /**
   * A copy of the accounting.
   *
   * @param latencyMs the objective (0: none)
   * @param percentile its percentile
   * @param costPerHour the price it is costed at (0: unpriced)
   * @param instances instances of the version
   * @param windows 10 s, 60 s, 300 s, then since start
   * @param policy the batching policy's state now
   * @param cpu the process's CPU use over about the last 10 s ({@link ProcessCpu}), all models
   * @param observed the {@value #LOAD_WINDOW} window's misses for load and the observed bound held
   *     from an earlier one, as read with the snapshot
   */
  public record Snapshot(
      double latencyMs,
      double percentile,
      double costPerHour,
      int instances,
      List<Window> windows,
      PolicyState policy,
      ProcessCpu.Usage cpu,
      Observed observed) {

    /** The window named {@code name} ({@code 10s}, {@code 60s}, {@code 300s}, {@code start}). */
    public Window window(String name) {
      return windows.stream()
          .filter(w -> w.window().equals(name))
          .findFirst()
          .orElseThrow(() -> new IllegalArgumentException("no window " + name));
    }

    /**
     * The load on this version against what it can serve within its objective: the requests that
     * ended over the {@value #LOAD_WINDOW} window (answered, failed, timed out or refused: what was
     * offered) a second, over the lower of the capacity the policy's pass times give ({@link
     * SloCapacity}, in requests a second at the window's rows a request: its predictions over the
     * requests that ran, 1 without any), the process's CPU bound and, while the window's misses for
     * load exceed what the objective allows, the observed bound ({@link Load#of}).
     */
    public Load load() {
      return loadOf(latencyMs, instances, policy, window(LOAD_WINDOW), cpu, observed);
    }
  }

  private static Load loadOf(
      double latencyMs,
      int instances,
      PolicyState policy,
      Window w,
      ProcessCpu.Usage cpu,
      Observed observed) {
    SloCapacity capacity =
        SloCapacity.of(Math.round(latencyMs * 1e6), instances, policy.passTimes());
    long ran = w.requests() - w.rejected() - w.timedOut();
    double rowsPerRequest = ran > 0 && w.predictions() > 0 ? (double) w.predictions() / ran : 1;
    return Load.of(capacity, rowsPerRequest, w.requests() / w.seconds(), cpu, observed);
  }

  /**
   * The highest observed bound of the windows that missed the objective for load, in requests a
   * second, and when the last of them ended (was read, or rolled past), on the schedulers' clock.
   * Replaced whole at reads and at a second's roll (a benign race: two at once may each replace it,
   * and the one lost is a figure from the same window or one a moment older).
   */
  private record Held(double perSecond, long atNanos) {}

  private volatile @Nullable Held held;

  /**
   * How long an observed bound is held after the window that showed it (the longest window's
   * length): see {@link Observed}.
   */
  public static final int HOLD_SECONDS = LONGEST_WINDOW_SECONDS;

  /**
   * The {@value #LOAD_WINDOW} window's evidence, and the bound held from an earlier one: a window
   * that misses the objective for load holds its own bound, or the one held if that is higher and
   * not yet {@value #HOLD_SECONDS} s old; one that does not miss drops it once it is that old, or
   * as soon as the offered rate reaches it (the replica took that much within the objective: the
   * bound no longer holds). Called at a read, not on a request's path; {@link #holdAtRoll} holds
   * the bound of the windows no read saw.
   */
  private Observed observed(Window w, long now) {
    Observed o = new Observed(w.requests() - w.bestEffort(), w.loadMisses(), slo.percentile());
    double offered = w.requests() / w.seconds();
    if (o.missed()) {
      hold(offered / o.ratio(), now);
      return o;
    }
    Held h = held;
    if (h == null) {
      return o;
    }
    long age = now - h.atNanos();
    if (age > HOLD_SECONDS * 1_000_000_000L || offered >= h.perSecond()) {
      held = null;
      return o;
    }
    return o.holding(h.perSecond(), Math.max(0, age) / 1e9);
  }

  /**
   * Holds {@code bound}, seen by a window that missed and ended at {@code atNanos}: the higher of
   * it and the one held while that is not yet {@value #HOLD_SECONDS} s old, from the later of the
   * two times.
   */
  private void hold(double bound, long atNanos) {
    Held h = held;
    if (h != null && atNanos - h.atNanos() <= HOLD_SECONDS * 1_000_000_000L) {
      held = new Held(Math.max(h.perSecond(), bound), Math.max(atNanos, h.atNanos()));
    } else {
      held = new Held(bound, atNanos);
    }
  }

  /**
   * At the roll into second {@code s} (holding this, once a second of events): holds the bound of
   * the {@value #LOAD_WINDOW_SECONDS} whole seconds before it if they missed the objective for
   * load, as a read of that window would, so that an overload no read saw (no scrape, no {@code
   * /slo}, no dashboard in those seconds) is held all the same. Sums three counts of ten buckets;
   * allocates only for a window that misses.
   */
  private void holdAtRoll(long s) {
    long first = Math.max(0, s - LOAD_WINDOW_SECONDS);
    long requests = 0;
    long bestEffort = 0;
    long loadMisses = 0;
    for (long t = first; t < s; t++) {
      Bucket b = ring[(int) (t % SECONDS)];
      if (b.second == t) {
        requests += b.requests;
        bestEffort += b.bestEffort;
        loadMisses += b.loadMisses;
      }
    }
    if (loadMisses < MIN_LOAD_MISSES) {
      return; // cannot miss: the common case, nothing more to do
    }
    long end = ledger.originNanos() + s * 1_000_000_000L;
    long from = Math.max(ledger.originNanos() + first * 1_000_000_000L, startNanos);
    if (end - from <= 0) {
      return;
    }
    Observed o = new Observed(requests - bestEffort, loadMisses, slo.percentile());
    if (o.missed()) {
      hold(requests / ((end - from) / 1e9) / o.ratio(), end);
    }
  }

  /**
   * The {@value #LOAD_WINDOW} window and the load over it. Immutable.
   *
   * @param window the {@value #LOAD_WINDOW} window, as {@link Snapshot#window} gives it
   * @param load the load, as {@link Snapshot#load} gives it
   */
  public record Recent(Window window, Load load) {}

  private static final int LOAD_WINDOW_SECONDS = 10;

  /** The window {@link Snapshot#load} reads the offered rate from: short, so the signal is live. */
  public static final String LOAD_WINDOW = LOAD_WINDOW_SECONDS + "s";

  /** Which bound the capacity stated is: the lower of the two. */
  public enum Bound {
    /** The pass times' ({@link SloCapacity}): the model is what bounds the replica. */
    PASSES,
    /**
     * The process's CPU: its CPU budget fills before the model's instances do (the transport's work
     * per request, which the pass times do not see, is what bounds it).
     */
    CPU,
    /**
     * What the replica was seen to serve: it refuses (or times out) more of the requests the
     * objective applies to than the objective allows, so it is past its capacity whatever the two
     * models say, and the capacity is at most the rate it took over the objective's percentile
     * ({@link Observed}).
     */
    OBSERVED;

    /** The bound's name as the {@code /slo} document writes it. */
    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** Whether the CPU bound is stated. */
  public enum CpuState {
    /** No CPU clock, or not a second of readings yet: only the pass bound is stated. */
    UNKNOWN,
    /**
     * The process uses no more than its background allowance ({@link Load#CPU_FLOOR} of its allowed
     * cores), or nothing is offered to this version: its CPU is not its requests', and no rate is
     * extrapolated from it; the CPU side of the load is 0.
     */
    IDLE,
    /** The CPU bound is stated. */
    KNOWN;

    /** The state's name as the {@code /slo} document writes it. */
    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /**
   * What the {@value #LOAD_WINDOW} window shows of the objective held or missed for load: the
   * evidence the observed bound of {@link Load#of} is from. Immutable.
   *
   * <p>The bound. A replica whose scheduler refuses (queue full, or the SLO policy's verdict that a
   * request cannot end in time behind the work ahead of it) or times out more of the requests the
   * objective applies to than the objective allows (1 − percentile of them) is past its capacity at
   * the objective, whatever the pass times and the CPU readings say: it is missing its objective
   * for load. How far past: had it a capacity C, then offered more than C it would still take at
   * least what it takes at C, of which the objective asks p (the percentile) to be in time; so C ≤
   * S / p, with S the rate of requests it took (those not refused or timed out). Over the window,
   * the load against that bound is p × requests / taken = p / (1 − m), m the share missed for load:
   * exactly 1 where m is the objective's allowance 1 − p, and rising as more is refused (0.99 /
   * 0.32 ≈ 3.1 with 68 % refused at the 99th percentile). It applies only past the allowance and
   * with at least {@value #MIN_LOAD_MISSES} such misses in the window (a few refusals of a burst at
   * a trickle are not the replica's capacity): below that the models alone state the capacity, so
   * this is the one place the load ratio may step, from the models' figure up to 1, and only when
   * the objective is being missed. Late answers and failures are not counted (an answer late for a
   * slow input, or a failing model, is not fixed by more replicas), nor are best-effort requests,
   * to which the objective does not apply.
   *
   * <p>Held. A bound seen is the replica's capacity under the conditions of that window, and it
   * stays true after the refusals stop because the load fell (an autoscaler added replicas): were
   * it forgotten with the window, the ratio would fall back to the models' figure, the autoscaler
   * would remove the replicas again, and the replica would refuse again, a cycle of the
   * autoscaler's scale-down delay. So the bound seen is held for {@value #HOLD_SECONDS} s (the
   * longest window) and stated against the offered rate while the window no longer misses: a
   * replica scaled out to a ratio of 0.7 on it reads 0.7, not its models' figure. What is held is
   * the highest bound the windows that missed showed (each one restarts the {@value #HOLD_SECONDS}
   * s): as the window slides past the end of an overload it holds the overloaded seconds and
   * quieter ones, and its bound, what was taken over the whole window, falls far below what was
   * taken while overloaded; the highest is from windows wholly in the overload. A window that
   * misses still states its own bound, so a capacity that fell is seen while it refuses. The bound
   * held is dropped as soon as the replica is offered as much without missing (it was too low: the
   * conditions changed), and {@value #HOLD_SECONDS} s after the last window that missed.
   *
   * @param requests requests the objective applies to that ended in the window
   * @param loadMisses of those, the ones refused or timed out in the queue
   * @param percentile the objective's percentile, in percent (e.g. 99)
   * @param heldPerSecond the bound held from an earlier window, in requests a second (NaN: none)
   * @param heldSeconds how long ago the last window that missed ended (NaN: none): read, or rolled
   *     past at the start of a second of events when no read saw it
   */
  public record Observed(
      long requests, long loadMisses, double percentile, double heldPerSecond, double heldSeconds) {
    /** Nothing observed: the bound does not apply. */
    public static final Observed NONE = new Observed(0, 0, SloConfig.DEFAULT_PERCENTILE);

    /** A window's evidence, with nothing held. */
    public Observed(long requests, long loadMisses, double percentile) {
      this(requests, loadMisses, percentile, Double.NaN, Double.NaN);
    }

    /** This window's evidence holding a bound seen {@code seconds} ago. */
    public Observed holding(double perSecond, double seconds) {
      return new Observed(requests, loadMisses, percentile, perSecond, seconds);
    }

    /**
     * The observed bound in requests a second at {@code offeredPerSecond}: this window's where it
     * misses the objective for load, else the one held (NaN: none).
     */
    public double perSecond(double offeredPerSecond) {
      return missed() ? offeredPerSecond / ratio() : heldPerSecond;
    }

    /** The misses for load the objective allows over the window: (1 − percentile) × requests. */
    public double allowedMisses() {
      return requests * (1 - percentile / 100);
    }

    /**
     * Whether the objective is being missed for load: more misses than it allows, and at least
     * {@value #MIN_LOAD_MISSES}.
     */
    public boolean missed() {
      return loadMisses >= MIN_LOAD_MISSES && loadMisses > allowedMisses();
    }

    /**
     * The load against the observed bound, p / (1 − m), at least 1 (NaN unless {@link #missed}).
     * With every request refused, as if one had been taken (a finite figure, far above 1).
     */
    public double ratio() {
      if (!missed()) {
        return Double.NaN;
      }
      long taken = Math.max(1, requests - loadMisses);
      return Math.max(1, percentile / 100 * requests / taken);
    }
  }

  /**
   * The fewest misses for load in the {@value #LOAD_WINDOW} window for the observed bound to apply
   * (one a second): fewer are a burst's, not a capacity.
   */
  public static final int MIN_LOAD_MISSES = 10;

  /**
   * A version's load against its capacity at the objective. Immutable.
   *
   * @param capacity what the pass times give, in rows a second, and whether it is known
   * @param passesPerSecond the pass bound in requests a second (NaN unless stated)
   * @param cpu the process's CPU use and budget the CPU bound is from
   * @param cpuState whether the CPU bound is stated
   * @param cpuLoad the CPU side of the load: the process's use beyond its background allowance over
   *     its budget beyond it, 0 to 1 (0 when {@link CpuState#IDLE}, NaN when unknown)
   * @param cpuPerSecond the CPU bound in requests a second (NaN unless {@link CpuState#KNOWN})
   * @param observed the window's misses for load the observed bound is from
   * @param observedPerSecond the observed bound in requests a second: the offered rate over {@link
   *     Observed#ratio} where the window misses for load, else the bound held (NaN: neither)
   * @param capacityPerSecond the lowest of the three, in requests a second (NaN unless the pass
   *     bound is stated; 0 when the objective is too tight for any batch size)
   * @param bound which of the three it is
   * @param rowsPerRequest the rows a request the requests a second are at
   * @param offeredPerSecond the requests a second offered over the {@value #LOAD_WINDOW} window
   * @param ratio offered over capacity (NaN unless a capacity above 0 is known: more replicas do
   *     not help an objective too tight for one): the largest of the pass load, {@code cpuLoad} and
   *     the observed load
   */
  public record Load(
      SloCapacity capacity,
      double passesPerSecond,
      ProcessCpu.Usage cpu,
      CpuState cpuState,
      double cpuLoad,
      double cpuPerSecond,
      Observed observed,
      double observedPerSecond,
      double capacityPerSecond,
      Bound bound,
      double rowsPerRequest,
      double offeredPerSecond,
      double ratio) {

    /**
     * The process's background allowance, as a share of the cores it may use ({@link
     * ProcessCpu.Usage#allowedCores}): the CPU an idle replica spends (the JIT, the collector,
     * timers, ONNX Runtime's threads spinning after a pass) that is not in proportion to its
     * requests.
     */
    public static final double CPU_FLOOR = 0.05;

    /**
     * The load from the pass bound, the process's CPU use and what the window observed.
     *
     * <p>The CPU bound. The process's CPU is taken as a background b ({@link #CPU_FLOOR} of its
     * allowed cores) plus a cost per request: at an offered rate r it uses own = b + c·r, so with a
     * budget B ({@link ProcessCpu.Usage#budgetCores}) the rate that fills it is r·(B − b) / (own −
     * b), and the CPU side of the load is (own − b) / (B − b). Below the allowance nothing is
     * extrapolated ({@link CpuState#IDLE}: the CPU side is 0 and the pass bound applies). The model
     * is continuous where it starts to apply: as own falls to b the CPU bound grows without limit,
     * so the capacity stated (the lower bound) moves smoothly from the CPU's to the passes' and the
     * load ratio down to the pass load, with no step at the floor for an autoscaler to act on, and
     * a quiet replica's background CPU never reads as load. The cost of that: where the background
     * is less than b the bound reads high at light load (twice the truth at 10 % of the cores),
     * within a few percent near a scaling target of 0.7. The cost a request falls a little as
     * batches fill, so past that the bound is on the low side, the safe side for an autoscaler.
     *
     * <p>With several models in one process the CPU is shared, and this version's CPU bound is its
     * own offered rate over the process's CPU load: the rate it reaches when every model's load
     * grows in the same proportion until the budget is full. That is the case an autoscaler meets:
     * it adds replicas of the whole process, each serving every model, so the load on each model
     * falls in the same proportion on each replica. It asks for no split of the process's CPU
     * between the models (which the process's CPU clock cannot give: the transport's threads serve
     * them all), and at a full budget every model's ratio reaches 1, whichever model's requests
     * cost the CPU.
     *
     * <p>The observed bound ({@link Observed}) caps the two where the objective is being missed for
     * load: the models are estimates, and one that misses what delays a request (a wait for a CPU
     * at each wake-up on a shared node, which neither the pass times nor a CPU pressure that is a
     * share of the wall time see in full) would otherwise state a replica that refuses most of its
     * requests as lightly loaded. The capacity stated is the lowest of the three.
     *
     * @param capacity the pass bound, in rows a second
     * @param rowsPerRequest rows a request, on average (at least 1)
     * @param offeredPerSecond requests offered a second over the window
     * @param cpu the process's CPU use over about the same window
     * @param observed the window's misses for load
     */
    public static Load of(
        SloCapacity capacity,
        double rowsPerRequest,
        double offeredPerSecond,
        ProcessCpu.Usage cpu,
        Observed observed) {
      double passes = capacity.stated() ? capacity.requestsPerSecond(rowsPerRequest) : Double.NaN;
      double own = cpu.ownCores();
      double budget = cpu.budgetCores();
      double background = CPU_FLOOR * cpu.allowedCores();
      CpuState state;
      double cpuLoad;
      double cpuBound = Double.NaN;
      if (!(own >= 0) || !(budget > 0)) {
        state = CpuState.UNKNOWN;
        cpuLoad = Double.NaN;
      } else if (own <= background || !(offeredPerSecond > 0)) {
        state = CpuState.IDLE;
        cpuLoad = 0;
      } else {
        state = CpuState.KNOWN;
        cpuLoad = Math.min(1, (own - background) / (budget - background));
        cpuBound = offeredPerSecond / cpuLoad;
      }
      Bound bound = cpuBound < passes ? Bound.CPU : Bound.PASSES;
      double stated = bound == Bound.CPU ? cpuBound : passes;
      double observedBound = observed.perSecond(offeredPerSecond);
      if (observedBound < stated) {
        bound = Bound.OBSERVED;
        stated = observedBound;
      }
      boolean known = capacity.state() == SloCapacity.State.KNOWN && stated > 0;
      return new Load(
          capacity,
          passes,
          cpu,
          state,
          cpuLoad,
          cpuBound,
          observed,
          observedBound,
          stated,
          bound,
          Math.max(1, rowsPerRequest),
          offeredPerSecond,
          known ? offeredPerSecond / stated : Double.NaN);
    }

    /**
     * The load from the pass and CPU bounds alone, with nothing observed ({@link Observed#NONE}).
     */
    public static Load of(
        SloCapacity capacity,
        double rowsPerRequest,
        double offeredPerSecond,
        ProcessCpu.Usage cpu) {
      return of(capacity, rowsPerRequest, offeredPerSecond, cpu, Observed.NONE);
    }
  }

  /** One second's counts. */
  private static final class Bucket {
    long second = -1;
    long requests;
    long bestEffort;
    long within;
    long rejected;
    long sloRejected;
    long timedOut;
    long loadMisses;
    long predictions;
    long busyNanos;
    final int[] latency = new int[LATENCY_BUCKETS];

    void reset(long s) {
      second = s;
      requests = 0;
      bestEffort = 0;
      within = 0;
      rejected = 0;
      sloRejected = 0;
      timedOut = 0;
      loadMisses = 0;
      predictions = 0;
      busyNanos = 0;
      Arrays.fill(latency, 0);
    }

    void addTo(Bucket sum) {
      sum.requests += requests;
      sum.bestEffort += bestEffort;
      sum.within += within;
      sum.rejected += rejected;
      sum.sloRejected += sloRejected;
      sum.timedOut += timedOut;
      sum.loadMisses += loadMisses;
      sum.predictions += predictions;
      sum.busyNanos += busyNanos;
      for (int i = 0; i < LATENCY_BUCKETS; i++) {
        sum.latency[i] += latency[i];
      }
    }
  }

  private final SloConfig slo;
  private final int instances;
  private final ComputeLedger ledger;
  private final Ticker ticker;
  private final long startNanos;

  /** The machine's compute time (the ledger's running total) when this version started. */
  private final long machineAtStartNanos;

  private final Bucket[] ring = new Bucket[SECONDS];
  private final Bucket total = new Bucket();

  /**
   * @param slo the objective and price
   * @param instances the version's instances, for utilization
   * @param ledger the machine's compute time, shared by every model
   * @param ticker the schedulers' clock (the events' {@code atNanos} are on it)
   */
  public SloAccounting(SloConfig slo, int instances, ComputeLedger ledger, Ticker ticker) {
    this.slo = slo;
    this.instances = Math.max(1, instances);
    this.ledger = ledger;
    this.ticker = ticker;
    this.startNanos = ticker.nanoTime();
    this.machineAtStartNanos = ledger.total();
    for (int i = 0; i < SECONDS; i++) {
      ring[i] = new Bucket();
    }
  }

  /**
   * Whether a reloaded copy of the version with this objective and these instances may keep
   * counting here: the same objective and price, the same instances (utilization's divisor). Then
   * its attainment windows, {@code start} and {@code fulcrum_slo_rejections_total} go on across the
   * reload, as the version's statistics do.
   */
  public boolean continuesWith(SloConfig other, int otherInstances) {
    return slo.equals(other) && instances == Math.max(1, otherInstances);
  }

  private Bucket bucket(long atNanos) {
    long s = ledger.secondOf(atNanos);
    Bucket b = ring[(int) (s % SECONDS)];
    if (b.second != s) {
      b.reset(s);
      // A second of this version's events begins: a reading of the process's CPU clock (kept if
      // the last is a second old), so the CPU bound has readings across the load window even when
      // nothing reads it between two scrapes; and the bound of the window that just ended is held
      // if it missed, read or not.
      ledger.processCpu().record();
      holdAtRoll(s);
    }
    return b;
  }

  @Override
  public synchronized void rejected(Rejected e) {
    for (Bucket b : new Bucket[] {bucket(e.atNanos()), total}) {
      b.requests++;
      b.rejected++;
      if (e.bestEffort()) {
        b.bestEffort++;
      } else {
        b.loadMisses++;
      }
      if (e.reason() == RejectReason.SLO) {
        b.sloRejected++;
      }
    }
  }

  @Override
  public void requestDone(RequestDone e) {
    if (e.outcome() == Outcome.CANCELLED || e.outcome() == Outcome.INVALID) {
      return; // the client left, or sent what the model cannot take: not the server's miss
    }
    if (e.outcome() == Outcome.SUCCESS) {
      answered(e.atNanos(), e.rows(), e.totalNanos(), e.bestEffort());
      return;
    }
    synchronized (this) {
      for (Bucket b : new Bucket[] {bucket(e.atNanos()), total}) {
        b.requests++;
        if (e.bestEffort()) {
          b.bestEffort++;
        }
        if (e.outcome() == Outcome.TIMED_OUT) {
          b.timedOut++;
          if (!e.bestEffort()) {
            b.loadMisses++;
          }
        }
      }
    }
  }

  /**
   * A response-cache hit is a request answered, and its predictions served, without a pass: it
   * counts in the windows as one answered in its lookup time (within any objective but a
   * sub-microsecond one), and lowers the cost per prediction as a cache does.
   */
  @Override
  public void cacheLookup(boolean hit, int rows, long lookupNanos) {
    if (!hit) {
      return; // the request runs, and its requestDone counts it
    }
    answered(ticker.nanoTime(), rows, lookupNanos, false); // its class is not known here
  }

  /**
   * A request answered at {@code atNanos} after {@code latencyNanos}, with its predictions; a
   * best-effort one counts outside attainment.
   */
  private void answered(long atNanos, int rows, long latencyNanos, boolean bestEffort) {
    boolean within = !bestEffort && (!slo.hasObjective() || latencyNanos <= slo.latencyNanos());
    int latencyBucket = latencyBucket(latencyNanos);
    synchronized (this) {
      for (Bucket b : new Bucket[] {bucket(atNanos), total}) {
        b.requests++;
        if (bestEffort) {
          b.bestEffort++;
        }
        if (within) {
          b.within++;
        }
        b.predictions += rows;
        b.latency[latencyBucket]++;
      }
    }
  }

  @Override
  public void batchDone(BatchDone e) {
    long busy = e.computeNanos();
    ledger.add(e.atNanos(), busy);
    synchronized (this) {
      bucket(e.atNanos()).busyNanos += busy;
      total.busyNanos += busy;
    }
  }

  /**
   * The buckets of the seconds {@code first} to {@code last} (inclusive) added up; holding this.
   */
  private Bucket sumOf(long first, long last) {
    Bucket sum = new Bucket();
    for (long s = first; s <= last; s++) {
      Bucket b = ring[(int) (s % SECONDS)];
      if (b.second == s) {
        b.addTo(sum);
      }
    }
    return sum;
  }

  /**
   * The cost per prediction that requests answered in one second of the ledger are charged, and
   * that second; replaced whole (a benign race: two threads may both compute it in a new second,
   * and they compute the same figure from the same whole seconds).
   */
  private record CostRate(long second, double usdPerPrediction) {}

  private volatile CostRate costRate = new CostRate(-1, Double.NaN);

  /**
   * What one prediction costs now, for a request's {@code cost_usd}: the cost per million
   * predictions / 10^6 of the last 10 whole seconds before the second in progress, as {@link
   * #snapshot} computes a window's (the price of the wall time times this version's share of the
   * machine's compute, over its predictions). Computed once a second, from whole seconds only, so
   * every request answered in a second is charged the same rate, and the first of them does not set
   * it for the others from a second barely begun. When those 10 s hold no prediction (the first
   * second of traffic after an idle spell), the 60 s and then the 300 s whole seconds; when none
   * does (a version in its first second of traffic), the 10 s window with the second in progress,
   * as {@code /slo} shows it now, not cached. Under a steady load the costs of the requests
   * answered over a window add up to the window's cost per million times its predictions / 10^6;
   * when the load changes, the rate follows it over the next 10 s. NaN when no price is configured.
   */
  public double costPerPredictionUsd() {
    if (!slo.priced()) {
      return Double.NaN;
    }
    long now = ticker.nanoTime();
    long current = ledger.secondOf(now);
    CostRate rate = costRate;
    if (rate.second() == current) {
      return rate.usdPerPrediction();
    }
    synchronized (this) {
      long machineSinceStart = ledger.total() - machineAtStartNanos;
      long secondStart = ledger.originNanos() + current * 1_000_000_000L;
      for (int w : WINDOWS_SECONDS) {
        Span span = span(w, current, false, secondStart, machineSinceStart);
        if (span.sum().predictions == 0 || span.wallNanos() <= 0) {
          continue;
        }
        double usd = costPerMillion(span) / 1e6;
        costRate = new CostRate(current, usd);
        return usd;
      }
      // No whole second with a prediction: the version's first second of traffic, charged as the
      // snapshot's first window shows it now.
      return costPerMillion(span(WINDOWS_SECONDS.get(0), current, true, now, machineSinceStart))
          / 1e6;
    }
  }

  /**
   * What a window's figures are computed over: its counts, its wall time and the machine's compute
   * time (all models') over that same time.
   */
  private record Span(Bucket sum, long wallNanos, long machineBusyNanos) {}

  /**
   * The span of the {@code seconds} whole seconds before the second in progress ({@code current}),
   * with that second up to {@code endNanos} when {@code withCurrent}, or up to its start ({@code
   * endNanos}) without it. The one place the {@code /slo} windows (which the metrics read too) and
   * the per-request cost per prediction get their time and the machine's compute from, so the two
   * cannot drift apart. For a version younger than the span, its wall time and the machine's
   * compute time both count from the version's start, not from the span's first second (which holds
   * the previous version's and other models' compute from before this one existed): the machine's
   * is then {@code machineSinceStart} (less the second in progress, without it). Holding this.
   */
  private Span span(
      int seconds, long current, boolean withCurrent, long endNanos, long machineSinceStart) {
    long first = Math.max(0, current - seconds);
    long last = withCurrent ? current : current - 1;
    long windowStart = ledger.originNanos() + first * 1_000_000_000L;
    boolean younger = windowStart <= startNanos;
    long from = younger ? startNanos : windowStart;
    long machine;
    if (!younger) {
      machine = ledger.busy(first, last);
    } else if (withCurrent) {
      machine = machineSinceStart;
    } else {
      machine = machineSinceStart - ledger.busy(current, current);
    }
    return new Span(sumOf(first, last), endNanos - from, machine);
  }

  /**
   * USD per million predictions over a span (NaN when unpriced or without predictions): the price
   * of the wall time times this version's share of the machine's compute time.
   */
  private double costPerMillion(Span span) {
    long predictions = span.sum().predictions;
    if (!slo.priced() || predictions <= 0) {
      return Double.NaN;
    }
    double seconds = Math.max(1e-9, span.wallNanos() / 1e9);
    long busy = span.sum().busyNanos;
    long machine = span.machineBusyNanos();
    double share = machine <= 0 ? 1 : Math.min(1, (double) busy / machine);
    return slo.costPerHour() / 3600 * seconds * share / predictions * 1e6;
  }

  /**
   * The accounting now.
   *
   * @param policy the batching policy's state now (its scheduler's {@code policyState()})
   */
  public Snapshot snapshot(PolicyState policy) {
    long now = ticker.nanoTime();
    long current = ledger.secondOf(now);
    List<Window> windows = new ArrayList<>(WINDOWS_SECONDS.size() + 1);
    synchronized (this) {
      // The machine's compute time since this version started. Read under this monitor: a batch
      // of this version is in the ledger before it is in this version's buckets, so the machine's
      // figure is never below this version's own.
      long machineSinceStart = ledger.total() - machineAtStartNanos;
      for (int w : WINDOWS_SECONDS) {
        // The whole seconds w back, and the second in progress: w to w + 1 seconds.
        windows.add(window(w + "s", span(w, current, true, now, machineSinceStart)));
      }
      Bucket all = new Bucket();
      total.addTo(all);
      windows.add(window("start", new Span(all, now - startNanos, machineSinceStart)));
    }
    Window loadWindow = windows.get(WINDOWS_SECONDS.indexOf(LOAD_WINDOW_SECONDS));
    return new Snapshot(
        slo.latencyNanos() / 1e6,
        slo.percentile(),
        slo.costPerHour(),
        instances,
        List.copyOf(windows),
        policy,
        ledger.processCpu().usage(),
        observed(loadWindow, now));
  }

  /**
   * The {@value #LOAD_WINDOW} window and the load over it, without the longer windows that {@link
   * #snapshot} merges: what the dashboard samples for each version each second.
   *
   * @param policy the batching policy's state now
   */
  public Recent recent(PolicyState policy) {
    long now = ticker.nanoTime();
    long current = ledger.secondOf(now);
    Window w;
    synchronized (this) {
      long machineSinceStart = ledger.total() - machineAtStartNanos;
      w = window(LOAD_WINDOW, span(LOAD_WINDOW_SECONDS, current, true, now, machineSinceStart));
    }
    return new Recent(
        w,
        loadOf(
            slo.latencyNanos() / 1e6,
            instances,
            policy,
            w,
            ledger.processCpu().usage(),
            observed(w, now)));
  }

  private Window window(String name, Span span) {
    Bucket b = span.sum();
    double seconds = Math.max(1e-9, span.wallNanos() / 1e9);
    long objectiveRequests = b.requests - b.bestEffort;
    double attainment =
        objectiveRequests == 0 || !slo.hasObjective()
            ? Double.NaN
            : (double) b.within / objectiveRequests;
    return new Window(
        name,
        seconds,
        b.requests,
        b.bestEffort,
        b.within,
        b.rejected,
        b.sloRejected,
        b.timedOut,
        b.loadMisses,
        attainment,
        percentileMs(b.latency, 0.50),
        percentileMs(b.latency, 0.95),
        percentileMs(b.latency, 0.99),
        b.predictions,
        b.predictions / seconds,
        Math.min(1, b.busyNanos / (seconds * 1e9 * instances)),
        costPerMillion(span));
  }

  static int latencyBucket(long nanos) {
    if (nanos <= FIRST_BOUND_NANOS) {
      return 0;
    }
    int i = (int) Math.ceil(Math.log(nanos / FIRST_BOUND_NANOS) / Math.log(GROWTH));
    return Math.min(LATENCY_BUCKETS - 1, i);
  }

  /** The upper bound of the bucket holding quantile {@code q}, in ms (within 10 % above). */
  private static double percentileMs(int[] histogram, double q) {
    long count = 0;
    for (int c : histogram) {
      count += c;
    }
    if (count == 0) {
      return Double.NaN;
    }
    long rank = (long) Math.ceil(q * count);
    long seen = 0;
    for (int i = 0; i < histogram.length; i++) {
      seen += histogram[i];
      if (seen >= rank) {
        return FIRST_BOUND_NANOS * Math.pow(GROWTH, i) / 1e6;
      }
    }
    return Double.NaN;
  }
}
