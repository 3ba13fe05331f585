package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.config.PlainNumbers;
import dev.fulcrum.core.config.SloConfig;
import dev.fulcrum.core.inference.RequestOptions.SloClass;
import java.util.Arrays;
import java.util.Locale;
import java.util.function.IntSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The batching policy of a model with a latency objective ({@code slo:} in config.yaml): it chooses
 * batch size and queue delay so that the oldest request still meets its deadline (admission +
 * {@code latency-ms}) while throughput is as high as that allows, and refuses early what cannot
 * make it.
 *
 * <p>Design (after Clockwork and Nexus, on one machine): the pass time of each batch size is
 * learned online from the passes this scheduler runs ({@link PassTimeModel}: its {@code percentile}
 * quantile, not its mean, is what the plans use). Let D be the head's deadline less a margin. For
 * the head of the queue:
 *
 * <ul>
 *   <li>if even a pass of the head alone cannot end by D, the head is dropped (429, SLO) rather
 *       than run late;
 *   <li>the batch takes as many joinable rows as still end by D (never more than max-batch-size);
 *   <li>it waits for one more request only while {@code now + wait + pass(n+1) <= D}, the next
 *       arrival is expected within that wait (from the arrival rate it measures), and the instances
 *       could not keep up with that rate at the present batch size (at low load it never waits, so
 *       latency stays one pass).
 * </ul>
 *
 * At admission, a request is refused (429 / RESOURCE_EXHAUSTED, reason SLO) when the work ahead of
 * it, as the queue stands (not as an arrival rate says), cannot end by its deadline: the passes
 * running now, then the queued rows in full batches spread over the instances, then its own pass,
 * as large as the rows queued with it and those expected to arrive before it starts make it. With
 * only its own batch after the running passes (steady load) the running passes count at their mean
 * and its own at the percentile; with full batches ahead, or its own batch full (overload: the
 * queue rides at this limit), every pass counts at its own percentile, the running ones from their
 * start, plus one full pass's deviation, so that what is admitted is almost never dropped later
 * (late drops are counted apart, in {@link PolicyState}); but while arrivals do not outpace full
 * batches (a queue that a stall lengthened, which drains by itself) the full batches ahead count at
 * the percentile of their sum, not the sum of their percentiles (session 19, {@link
 * #POOLED_DEEP_PLANS}). With nothing queued ahead it will lead its own batch, which {@code decide}
 * keeps to what ends in time, so it is refused only when a pass of its own rows after the running
 * ones cannot. For its first {@link #WARM_NANOS} (and {@link #WARM_PASSES} passes) it refuses only
 * what cannot end by the deadline on average: a cold server's pass times are high and erratic. A
 * request of class {@code best_effort} is never refused or dropped for the objective. Before the
 * first pass is measured, it batches greedily (take what is queued) and refuses nothing.
 *
 * <p>Calibration (session 10): for each batch head admitted with a plan, realized less planned
 * finish is kept over a recent window ({@link PlanCalibration}: a fixed ring and histogram, O(1)
 * per pass, no allocation per request). Given a calibration quantile, admission adds that quantile
 * of the window's realized less planned finish to its plan (negative when the plan over-predicts);
 * without one (the default), it only measures it.
 *
 * <p>Calibration by depth (session 12): the same outcome is also kept per depth of the plan (the
 * passes it counted ahead of the request's own, {@link DepthCalibration}), since every pass ahead
 * counts at its percentile and the plan's pessimism grows with the queue. A plan that deep is
 * relaxed by the {@code depthQuantile} of what plans as deep realized less planned, when that is
 * below 0 (never tightened: the tolerance and the late drops keep the load step's behaviour).
 *
 * <p>Late-drop guard (session 15): under overload the queue rides at the admission limit, so a pass
 * that runs over its plan (a stall on shared cores) drops the requests admitted behind it at their
 * deadline, about the objective after they arrived. Each such late drop of a request admitted on a
 * plan with full batches ahead raises a guard that admission adds to such plans ({@link
 * #dropGuardNanos}): the queue is kept shorter for some seconds, and the excess is refused at once.
 * The guard is added only while arrivals, refused ones too, outpace what full batches serve
 * (session 16): a stall at a load below capacity raises it too, but there the queue drains by
 * itself, and the guard only refused what would have made it (session 15's quiet 80 % run).
 *
 * <p>Not thread-safe: guarded by its scheduler's lock (every method, the calibration included, is
 * called under it).
 */
final class SloBatchingPolicy implements BatchingPolicy {
  private static final Logger log = LoggerFactory.getLogger(SloBatchingPolicy.class);

  /** Weight of one inter-arrival gap in the arrival-rate average. */
  private static final double RATE_ALPHA = 0.05;

  /**
   * How long after its first pass the policy refuses at admission only what it expects to miss on
   * average, not at its percentile: the first passes of a fresh server are slow and erratic (the
   * JIT, ONNX Runtime's first passes at each shape), and planning with a high quantile of them
   * refused what the warm server answers in time.
   */
  static final long WARM_NANOS = 3_000_000_000L;

  /** Passes measured, at least, before it refuses at admission at its percentile. */
  static final int WARM_PASSES = 100;

  private final String model;
  private final SloConfig slo;
  private final int maxBatchSize;
  private final int instances;
  private final long marginNanos;
  private final PassTimeModel passes;

  /** Per instance: when its running pass started. */
  private final long[] startedAt;

  /** Per instance: the rows of its running pass (0: idle). */
  private final int[] runningRows;

  /** Requests refused at admission, since start. */
  private long refused;

  /** Requests admitted, then dropped from the queue when their deadline became unreachable. */
  private long droppedLate;

  /**
   * The request admitted as a probe: it arrived to an empty queue and an idle instance, so it is
   * admitted and run whatever the estimates say, so that estimates made on a slow spell are
   * measured again (otherwise everything would be refused and nothing measured any more).
   */
  private @Nullable PendingRequest probe;

  private long firstPass = Long.MIN_VALUE;
  private long lastArrival = Long.MIN_VALUE;
  private double gapNanos;
  private double recentRows;
  private long lastWaitNanos;

  /** Admission's plan against its outcomes (see {@link PlanCalibration}). */
  private final PlanCalibration calibration = new PlanCalibration();

  /**
   * The quantile (0-1) of realized less planned finish that admission adds to its plan, or NaN to
   * only measure it (session 9's plan: the default until a quiet run decides).
   */
  private final double calibrationQuantile;

  /** Outcomes in the window before the calibration is applied. */
  static final int CALIBRATION_MIN = 64;

  /** The plan (time to finish from now) of the request that plan() last admitted, or NaN. */
  private double lastPlanNanos = Double.NaN;

  /**
   * How far past its deadline admission predicted the last refused request would finish, in
   * nanoseconds (the refusal margin; NaN before the first refusal).
   */
  private double lastRefusalOverNanos = Double.NaN;

  /** Refusal margins since start, as a share of the objective (see {@link RefusalMargins}). */
  private final RefusalMargins refusalMargins = new RefusalMargins();

  /** The head of the batch decide() last chose to take, until its pass starts. */
  private @Nullable PendingRequest takenHead;

  /** The default of {@link #toleranceCap}. */
  static final double TOLERANCE_CAP = 0.2;

  /**
   * After a late drop, no tolerance until the heads' slack window has renewed itself: the head
   * count ({@code headSlack.total()}) from which it applies again.
   */
  private long toleranceOffUntil;

  /** The share of that low quantile of the heads' slack that admission may use. */
  static final double TOLERANCE_SHARE = 0.5;

  /** The quantile of recent heads' realized slack that bounds the tolerance. */
  static final double TOLERANCE_QUANTILE = 0.01;

  /**
   * The most admission lets a plan run past the deadline, as a share of the objective (see {@link
   * #toleranceNanos}); 0: admission as planned.
   */
  private final double toleranceCap;

  /**
   * Realized slack of recent batch heads that had a deadline: deadline less the pass's end (or, for
   * a head dropped late, less a pass from then), as a share of the objective.
   */
  private final PlanCalibration headSlack = new PlanCalibration();

  /** Per instance: the running pass's head's deadline (MAX_VALUE: none). */
  private final long[] headDeadline;

  /** Per instance: the running pass's head's planned finish (MIN_VALUE: none). */
  private final long[] headPlanned;

  /** Per instance: the depth of the running pass's head's plan. */
  private final int[] headDepth;

  /** Admission's plan against its outcomes, per depth (passes planned ahead). */
  private final DepthCalibration byDepth = new DepthCalibration();

  /**
   * The quantile (0-1) of realized less planned finish, of requests admitted as deep, that
   * admission adds to its plan, or NaN to only measure it.
   */
  private final double depthQuantile;

  /** The depth of the plan that plan() last made. */
  private int lastDepth;

  /** The default of {@link #dropGuardCap}, as a share of the objective. */
  static final double DROP_GUARD_CAP = 0.5;

  /** What one late drop adds to the guard, as a share of the objective. */
  static final double DROP_GUARD_STEP = 0.01;

  /** The guard's half-life, in nanoseconds. */
  static final long DROP_GUARD_HALF_LIFE = 10_000_000_000L;

  /**
   * From how long after the first pass late drops raise the guard: the first seconds' drops are the
   * cold estimates' error (see {@link #WARM_NANOS}), not a queue longer than its plan.
   */
  static final long DROP_GUARD_FROM_NANOS = 10_000_000_000L;

  /** The default of {@link Tuning#dropGuardOnlyOverloaded} (session 16). */
  static final boolean DROP_GUARD_ONLY_OVERLOADED = true;

  /**
   * How far arrivals must outpace full batches for {@link #overloaded}: at 1.0 the simulated 80 %
   * load read as an overload now and then (the full batch's mean, rarely run there, reads slow) and
   * kept most of the guard's cost; at 1.2 none of it, and the step at 150 % is unchanged.
   */
  static final double OVERLOAD_FACTOR = 1.2;

  /**
   * Weight of one inter-arrival gap in the average that tells an overload (see {@link
   * #overloaded}): about the last 200 arrivals, so that Poisson arrivals at 80 % of capacity read
   * below it (the admission's own average, over about 20, swings by a fifth).
   */
  private static final double OVERLOAD_ALPHA = 0.005;

  /** The most the late-drop guard adds to a plan, as a share of the objective (0: none). */
  private final double dropGuardCap;

  private final boolean dropGuardOnlyOverloaded;

  /**
   * The default of {@link Tuning#pooledDeepPlans} (session 19). Below capacity a queue that a stall
   * lengthened drains by itself, and the full batches ahead of an arrival are independent passes:
   * their sum's spread grows with the square root of their number, not with it. Counting each at
   * its percentile refused, in simulated time at 80 % of MiniLM's capacity with 1-3 % of passes
   * stalled, 0.1-0.9 % of the requests, nearly all on plans two or more batches deep, where the
   * same stream with nothing refused answered 99.8-100 % within the objective. Under overload (see
   * {@link #overloaded}) the queue rides at the admission limit, a stall drops its tail, and every
   * pass still counts at its own percentile (session 14's load step).
   */
  static final boolean POOLED_DEEP_PLANS = true;

  private final boolean pooledDeepPlans;

  /**
   * Every arrival's gap (refused ones too), averaged with {@link #OVERLOAD_ALPHA}; 0 before two.
   */
  private double arrivalGapNanos;

  private long lastSeen = Long.MIN_VALUE;

  /** The late-drop guard at {@link #dropGuardAt}, in nanoseconds (see {@link #dropGuardNanos}). */
  private double dropGuard;

  /** When {@link #dropGuard} was last raised. */
  private long dropGuardAt;

  /** Whether the request that plan() last looked at was planned warm. */
  private boolean lastWarm;

  /** The default of {@code depthQuantile} (session 12's simulation; see docs/PERFORMANCE.md). */
  static final double DEPTH_QUANTILE = 0.95;

  /**
   * Admission's tunables, one record so that a simulation varies one of them against the shipped
   * rest ({@link #DEFAULT}; {@code with...} for the others). Immutable.
   *
   * @param calibrationQuantile see the field (NaN: measure only, as shipped)
   * @param toleranceCap the most admission lets a plan run past the deadline, as a share of the
   *     objective, when the realized slack of recent batch heads allows it (0: never)
   * @param depthQuantile the quantile (0-1) of realized less planned finish, per depth, that
   *     admission adds to a plan that deep (see {@link DepthCalibration}; NaN: measure only)
   * @param matureOutlierDeviations the pass-time model's outlier bound for sizes with a deviation
   *     of their own (see {@link PassTimeModel#MATURE_OUTLIER_DEVIATIONS}; {@link
   *     PassTimeModel#OUTLIER_DEVIATIONS} is the model before session 14)
   * @param dropGuardCap the most the late-drop guard (see {@link #dropGuardNanos}) adds to a plan
   *     with full batches ahead, as a share of the objective (0: no guard, session 14's admission)
   * @param dropGuardOnlyOverloaded whether the guard is added only while arrivals (refused ones
   *     too) outpace what full batches serve (see {@link #overloaded}); false: whenever it is up
   * @param pooledDeepPlans whether a plan with full batches ahead counts them, while arrivals do
   *     not outpace full batches, at the percentile of their sum rather than the sum of their
   *     percentiles (see {@link #POOLED_DEEP_PLANS}); false: session 18's admission
   */
  record Tuning(
      double calibrationQuantile,
      double toleranceCap,
      double depthQuantile,
      double matureOutlierDeviations,
      double dropGuardCap,
      boolean dropGuardOnlyOverloaded,
      boolean pooledDeepPlans) {
    /** As shipped. */
    static final Tuning DEFAULT =
        new Tuning(
            Double.NaN,
            TOLERANCE_CAP,
            DEPTH_QUANTILE,
            PassTimeModel.MATURE_OUTLIER_DEVIATIONS,
            DROP_GUARD_CAP,
            DROP_GUARD_ONLY_OVERLOADED,
            POOLED_DEEP_PLANS);

    Tuning withCalibrationQuantile(double q) {
      return new Tuning(
          q,
          toleranceCap,
          depthQuantile,
          matureOutlierDeviations,
          dropGuardCap,
          dropGuardOnlyOverloaded,
          pooledDeepPlans);
    }

    Tuning withToleranceCap(double cap) {
      return new Tuning(
          calibrationQuantile,
          cap,
          depthQuantile,
          matureOutlierDeviations,
          dropGuardCap,
          dropGuardOnlyOverloaded,
          pooledDeepPlans);
    }

    Tuning withDepthQuantile(double q) {
      return new Tuning(
          calibrationQuantile,
          toleranceCap,
          q,
          matureOutlierDeviations,
          dropGuardCap,
          dropGuardOnlyOverloaded,
          pooledDeepPlans);
    }

    Tuning withMatureOutlierDeviations(double deviations) {
      return new Tuning(
          calibrationQuantile,
          toleranceCap,
          depthQuantile,
          deviations,
          dropGuardCap,
          dropGuardOnlyOverloaded,
          pooledDeepPlans);
    }

    Tuning withDropGuardCap(double cap) {
      return new Tuning(
          calibrationQuantile,
          toleranceCap,
          depthQuantile,
          matureOutlierDeviations,
          cap,
          dropGuardOnlyOverloaded,
          pooledDeepPlans);
    }

    Tuning withPooledDeepPlans(boolean pooled) {
      return new Tuning(
          calibrationQuantile,
          toleranceCap,
          depthQuantile,
          matureOutlierDeviations,
          dropGuardCap,
          dropGuardOnlyOverloaded,
          pooled);
    }

    Tuning withDropGuardOnlyOverloaded(boolean only) {
      return new Tuning(
          calibrationQuantile,
          toleranceCap,
          depthQuantile,
          matureOutlierDeviations,
          dropGuardCap,
          only,
          pooledDeepPlans);
    }
  }

  /**
   * @param model names the model in refusals
   * @param slo the objective (latency > 0)
   * @param maxBatchSize the largest batch, at least 1 (1 for a model that does not batch)
   * @param instances the workers, each running one pass at a time
   */
  SloBatchingPolicy(String model, SloConfig slo, int maxBatchSize, int instances) {
    this(model, slo, maxBatchSize, instances, Tuning.DEFAULT);
  }

  /** As above, with admission's tunables other than as shipped (simulations, A/B). */
  SloBatchingPolicy(String model, SloConfig slo, int maxBatchSize, int instances, Tuning tuning) {
    if (!slo.hasObjective()) {
      throw new IllegalArgumentException("the SLO policy needs a latency objective");
    }
    this.model = model;
    this.slo = slo;
    this.maxBatchSize = Math.max(1, maxBatchSize);
    this.instances = Math.max(1, instances);
    // What the pass-time estimate does not see: joins, splits, completion, the transport's write.
    this.marginNanos = SloCapacity.marginNanos(slo.latencyNanos());
    this.passes =
        new PassTimeModel(this.maxBatchSize, slo.percentile(), tuning.matureOutlierDeviations());
    this.startedAt = new long[this.instances];
    this.runningRows = new int[this.instances];
    this.headPlanned = new long[this.instances];
    Arrays.fill(headPlanned, Long.MIN_VALUE);
    this.calibrationQuantile = tuning.calibrationQuantile();
    this.toleranceCap = Math.max(0, tuning.toleranceCap());
    this.depthQuantile = tuning.depthQuantile();
    this.headDepth = new int[this.instances];
    this.headDeadline = new long[this.instances];
    Arrays.fill(headDeadline, Long.MAX_VALUE);
    this.dropGuardCap = Math.max(0, tuning.dropGuardCap());
    this.dropGuardOnlyOverloaded = tuning.dropGuardOnlyOverloaded();
    this.pooledDeepPlans = tuning.pooledDeepPlans();
  }

  /**
   * What admission adds now to a plan with full batches ahead (depth 2 or more: the queue rides at
   * the admission limit, an overload), in nanoseconds: the late-drop guard. Each request admitted
   * warm on such a plan and then dropped in the queue raises it by {@link #DROP_GUARD_STEP} of the
   * objective (up to {@link #dropGuardCap}); it halves every {@link #DROP_GUARD_HALF_LIFE}
   * nanoseconds. A late drop says the queue held more work than the plan thought (passes ran over
   * their percentile, a stall, dispatch and completion time the pass table does not see): the guard
   * keeps the queue that much shorter while it lasts, so the excess of an overload is refused at
   * arrival (at once) rather than admitted and dropped at its deadline. At steady load below
   * capacity admitted requests are rarely dropped once warm (none in the quiet 5-minute run of
   * session 14), so it stays at or near 0 there.
   */
  double dropGuardNanos(long now) {
    if (dropGuard <= 0) {
      return 0;
    }
    double halves = (double) Math.max(0, now - dropGuardAt) / DROP_GUARD_HALF_LIFE;
    return dropGuard * Math.pow(0.5, halves);
  }

  PlanCalibration calibration() {
    return calibration;
  }

  /** What admission adds to its planned time to finish now, in nanoseconds (0: not calibrating). */
  double calibrationOffsetNanos() {
    return !Double.isNaN(calibrationQuantile) && calibration.size() >= CALIBRATION_MIN
        ? calibration.quantile(calibrationQuantile) * slo.latencyNanos()
        : 0;
  }

  DepthCalibration byDepth() {
    return byDepth;
  }

  /**
   * What admission adds to a plan {@code depth} passes deep, in nanoseconds: the depth quantile of
   * what plans that deep realized less planned (negative: they were pessimistic); 0 when not
   * calibrating by depth or before {@link #CALIBRATION_MIN} outcomes at that depth.
   */
  double depthOffsetNanos(int depth) {
    if (Double.isNaN(depthQuantile)) {
      return 0;
    }
    PlanCalibration c = byDepth.at(depth);
    return c.size() >= CALIBRATION_MIN
        ? Math.min(0, c.quantile(depthQuantile)) * slo.latencyNanos()
        : 0;
  }

  /** See the field: the last refusal's predicted finish past its deadline, in nanoseconds. */
  double lastRefusalOverNanos() {
    return lastRefusalOverNanos;
  }

  /** The depth of the plan that admission last made (0: nothing queued ahead; for simulations). */
  int lastDepth() {
    return lastDepth;
  }

  RefusalMargins refusalMargins() {
    return refusalMargins;
  }

  /**
   * How far past the deadline admission lets a plan end now: the slack that recent batch heads
   * actually had at their low quantile ({@link #TOLERANCE_QUANTILE} of the last {@link
   * PlanCalibration#WINDOW}), at most {@link #toleranceCap} of the objective; 0 until the window
   * holds {@link #CALIBRATION_MIN} heads. The plan sums every pass ahead at its percentile; when
   * the heads it admitted still end with that much to spare, the plan is that pessimistic. It feeds
   * back the right way: admitting more lengthens the queue and eats the heads' slack, and a late
   * drop counts as negative slack, so under overload (a load step) it falls to 0 within a few
   * passes.
   */
  double toleranceNanos() {
    if (toleranceCap <= 0
        || headSlack.size() < CALIBRATION_MIN
        || headSlack.total() < toleranceOffUntil) {
      return 0;
    }
    double q = headSlack.quantile(TOLERANCE_QUANTILE) - 1.0 / PlanCalibration.BUCKETS;
    return Math.max(0, Math.min(toleranceCap, TOLERANCE_SHARE * q)) * slo.latencyNanos();
  }

  PlanCalibration headSlack() {
    return headSlack;
  }

  PassTimeModel passTimes() {
    return passes;
  }

  @Override
  public boolean bestEffortLast() {
    return true;
  }

  private long deadline(PendingRequest p) {
    if (p.request.options().sloClass() == SloClass.BEST_EFFORT) {
      return Long.MAX_VALUE;
    }
    return p.arrivalNanos + slo.latencyNanos() - marginNanos;
  }

  @Override
  public Decision decide(PendingRequest head, boolean joins, IntSupplier joinable, long now) {
    if (!passes.ready()) {
      lastWaitNanos = 0;
      return new Take(maxBatchSize);
    }
    long deadline = deadline(head);
    int available = Math.min(maxBatchSize, joinable.getAsInt());
    int rows = available;
    if (deadline != Long.MAX_VALUE) {
      long left = deadline - now;
      if (passes.quantile(head.rows) > left && head != probe) {
        droppedLate++;
        if (head.plannedFinishNanos != Long.MIN_VALUE) {
          // It would have ended a pass from now at the earliest: a lower bound of its outcome.
          recordOutcome(
              head.plannedFinishNanos, now + passes.quantile(head.rows), head.plannedDepth);
        }
        headSlack.record((deadline - now - passes.quantile(head.rows)) / slo.latencyNanos());
        toleranceOffUntil = headSlack.total() + PlanCalibration.WINDOW;
        if (dropGuardCap > 0
            && head.admittedWarm
            && head.plannedDepth >= 2
            && now - firstPass >= DROP_GUARD_FROM_NANOS) {
          dropGuard =
              Math.min(
                  dropGuardCap * slo.latencyNanos(),
                  dropGuardNanos(now) + DROP_GUARD_STEP * slo.latencyNanos());
          dropGuardAt = now;
        }
        return new Shed(
            String.format(
                Locale.ROOT,
                "model '%s': dropped from the queue: it can no longer meet its latency objective"
                    + " (SLO %s ms at p%s); retry later",
                model,
                ms(slo.latencyNanos()),
                percentile()));
      }
      while (rows > head.rows && passes.quantile(rows) > left) {
        rows--;
      }
      if (rows < available) {
        lastWaitNanos = 0;
        takenHead = head;
        return new Take(rows);
      }
    }
    long holdUntil = deadline != Long.MAX_VALUE ? deadline : head.arrivalNanos + slo.latencyNanos();
    long wait = joins ? waitForMore(rows, holdUntil, now) : 0;
    if (wait > 0) {
      lastWaitNanos = wait;
      return new Wait(wait);
    }
    lastWaitNanos = 0;
    takenHead = head;
    return new Take(rows);
  }

  /**
   * One batch head's outcome against its plan: realized less planned finish, as a share of the
   * objective, into the calibration and into its depth's window.
   */
  private void recordOutcome(long planned, double realized, int depth) {
    double residual = (realized - planned) / slo.latencyNanos();
    calibration.record(residual);
    byDepth.at(depth).record(residual);
  }

  /**
   * How long to hold a batch of {@code rows} for one more request, or 0 to run it now: only when
   * running now at this size could not keep up with the arrival rate, only until a little after the
   * next arrival is due (twice the mean gap after the last one: a stream that stopped is not waited
   * for), and only while a batch one larger would still end by {@code holdUntil}.
   */
  private long waitForMore(int rows, long holdUntil, long now) {
    if (rows >= maxBatchSize || gapNanos <= 0 || lastArrival == Long.MIN_VALUE) {
      return 0;
    }
    double perInstanceRate = 1e9 / gapNanos / instances; // arrivals per second per instance
    double keepUp = rows * 1e9 / Math.max(1, passes.mean(rows)); // rows per second at this size
    if (keepUp >= perInstanceRate) {
      return 0;
    }
    long wait = lastArrival + 2 * (long) gapNanos - now;
    if (wait <= 0) {
      return 0;
    }
    double slack = holdUntil - now - passes.quantile(rows + 1);
    return wait <= slack ? wait : 0;
  }

  @Override
  public @Nullable String refusal(PendingRequest p, int queuedRows, long now) {
    if (lastSeen != Long.MIN_VALUE) {
      double gap = Math.max(0, now - lastSeen);
      arrivalGapNanos =
          arrivalGapNanos <= 0 ? gap : arrivalGapNanos + OVERLOAD_ALPHA * (gap - arrivalGapNanos);
    }
    lastSeen = now;
    lastPlanNanos = Double.NaN;
    String why = plan(p, queuedRows, now);
    if (why != null) {
      refused++;
    } else if (!Double.isNaN(lastPlanNanos)) {
      p.plannedFinishNanos = now + (long) lastPlanNanos;
      p.plannedDepth = lastDepth;
      p.admittedWarm = lastWarm;
    }
    return why;
  }

  private @Nullable String plan(PendingRequest p, int queuedRows, long now) {
    if (!passes.ready() || deadline(p) == Long.MAX_VALUE) {
      return null;
    }
    // While it warms up it refuses only what it expects to miss even on average: the early
    // estimates are high, and their deviations higher.
    boolean warm = warm(now);
    lastWarm = warm;
    // When the first instance can take the next batch: an idle one now, a busy one when its
    // running pass ends, expected (at its mean) and as planned (at the percentile; a pass that
    // already ran over that is in a slow spell whose end is not known: another deviation).
    double free = Double.MAX_VALUE;
    double freePlanned = Double.MAX_VALUE;
    boolean idle = false;
    for (int i = 0; i < instances; i++) {
      int rows = runningRows[i];
      if (rows == 0) {
        idle = true;
        free = 0;
        freePlanned = 0;
      } else {
        free = Math.min(free, Math.max(0, startedAt[i] + passes.mean(rows) - now));
        double end = startedAt[i] + planned(rows, warm) - now;
        freePlanned = Math.min(freePlanned, Math.max(passes.deviation(rows), end));
      }
    }
    if (queuedRows == 0 && idle) {
      probe = p;
      return null;
    }
    long left = deadline(p) - now;
    if (queuedRows == 0) {
      // Nothing queued: it will lead the next batch, which decide() keeps to what ends by its
      // deadline, so only a pass of its own rows after the running ones can make it late.
      double alone = free + planned(p.rows, warm);
      lastDepth = 0;
      return verdict(left, alone, queuedRows, warm, now);
    }
    // The rows queued ahead leave in full batches (under load the dispatch forms them: the queue
    // holds at least a batch), spread over the instances as they free up.
    int rowsThrough = queuedRows + p.rows;
    int batches = (rowsThrough + maxBatchSize - 1) / maxBatchSize;
    int rounds = (batches + instances - 1) / instances;
    if (rounds == 1) {
      // Only its own batch after the running passes: at steady load the common case. The batch
      // also takes the requests that arrive behind it before it starts: plan with that size, as
      // the dispatch will run it (planning with the rows ahead only admits more than full batches
      // can serve, and then the old heads force small batches: a spiral down). The running
      // passes count at their mean and its own pass's percentile is the margin; but when its
      // batch will be full (overload, for a model whose full batch is a large share of the
      // objective: the queue then never holds a full batch ahead) it is planned as below.
      int lastRows = rowsThrough - (batches - 1) * maxBatchSize;
      if (gapNanos > 0 && lastRows < maxBatchSize) {
        lastRows = (int) Math.min(maxBatchSize, lastRows + Math.ceil(free / gapNanos));
      }
      double finish =
          lastRows >= maxBatchSize && warm
              ? freePlanned + planned(lastRows, warm) + passes.deviation(maxBatchSize)
              : free + planned(lastRows, warm);
      lastDepth = 1;
      return verdict(left, finish, queuedRows, warm, now);
    }
    // Full batches ahead: the queue is long, under overload at this very limit. Every pass is
    // planned at its percentile, each at its own (the spread shared in quadrature overran often
    // enough that admitted requests were dropped at their deadline: issue #10's load step), the
    // running one too, and once warm with a cushion of one full pass's deviation (a slow pass
    // now and then, beyond the percentile, otherwise still made the requests queued behind it
    // miss). Its own batch is planned full: with a batch's worth queued before it starts, the
    // dispatch fills it; and the arrival rate, measured before a step up, would plan it smaller.
    double finish;
    if (warm && pooledDeepPlans && !overloaded()) {
      // Below capacity (session 19): the full batches ahead are independent passes, so their sum
      // is planned at its own percentile (the spread of the sum grows as the square root of their
      // number); the running pass still at its percentile, and the same cushion.
      finish =
          freePlanned
              + rounds * passes.mean(maxBatchSize)
              + passes.z() * passes.deviation(maxBatchSize) * Math.sqrt(rounds)
              + passes.deviation(maxBatchSize);
    } else {
      finish = freePlanned + rounds * planned(maxBatchSize, warm);
      if (warm) {
        finish += passes.deviation(maxBatchSize);
      }
    }
    lastDepth = rounds;
    return verdict(left, finish, queuedRows, warm, now);
  }

  /**
   * Admits when the plan, plus the calibration's offset (and, with full batches ahead, the
   * late-drop guard), ends by the deadline; remembers the plan without it of what it admits (the
   * calibration measures the plan, not its own correction).
   */
  private @Nullable String verdict(
      long left, double finish, int queuedRows, boolean warm, long now) {
    double scaled = finish + calibrationOffsetNanos() + (warm ? depthOffsetNanos(lastDepth) : 0);
    if (warm && lastDepth >= 2 && (!dropGuardOnlyOverloaded || overloaded())) {
      scaled += dropGuardNanos(now);
    }
    if (scaled <= left + (warm ? toleranceNanos() : 0)) {
      lastPlanNanos = finish;
      return null;
    }
    lastRefusalOverNanos = scaled - left;
    refusalMargins.record(lastRefusalOverNanos / slo.latencyNanos());
    return tooLate(queuedRows, scaled);
  }

  /**
   * Whether requests arrive (refused ones too) {@link #OVERLOAD_FACTOR} times faster than full
   * batches on every instance serve them at their mean: an overload, whose queue rides at the
   * admission limit, rather than a queue that a stall lengthened at a load it drains by itself.
   */
  private boolean overloaded() {
    return arrivalGapNanos > 0
        && 1e9 / arrivalGapNanos
            > OVERLOAD_FACTOR * instances * maxBatchSize * 1e9 / passes.mean(maxBatchSize);
  }

  /** A pass of {@code rows} rows as admission plans it: its percentile once warm, else its mean. */
  private double planned(int rows, boolean warm) {
    return warm ? passes.quantile(rows) : passes.mean(rows);
  }

  /**
   * The refusal's reason; built by concatenation, not a format: it is made under the queue's lock.
   */
  private String tooLate(int queuedRows, double finishNanos) {
    return "model '"
        + model
        + "' cannot answer within its latency objective now (SLO "
        + ms(slo.latencyNanos())
        + " ms at p"
        + percentile()
        + ": "
        + queuedRows
        + " rows queued ahead, about "
        + ms((long) finishNanos)
        + " ms to finish); retry later";
  }

  @Override
  public void admitted(PendingRequest p, long now) {
    if (lastArrival != Long.MIN_VALUE) {
      double gap = Math.max(0, now - lastArrival);
      gapNanos = gapNanos <= 0 ? gap : gapNanos + RATE_ALPHA * (gap - gapNanos);
    }
    lastArrival = now;
  }

  @Override
  public void started(int instance, int rows, long now) {
    if (instance >= 0 && instance < instances) {
      startedAt[instance] = now;
      runningRows[instance] = rows;
      PendingRequest head = takenHead;
      headPlanned[instance] = head == null ? Long.MIN_VALUE : head.plannedFinishNanos;
      headDepth[instance] = head == null ? 0 : head.plannedDepth;
      headDeadline[instance] = head == null || head == probe ? Long.MAX_VALUE : deadline(head);
      takenHead = null;
    }
    recentRows = recentRows == 0 ? rows : 0.9 * recentRows + 0.1 * rows;
  }

  @Override
  public void finished(int instance, int rows, long computeNanos, long now) {
    if (instance >= 0 && instance < instances) {
      runningRows[instance] = 0;
      if (headPlanned[instance] != Long.MIN_VALUE) {
        recordOutcome(headPlanned[instance], now, headDepth[instance]);
        headPlanned[instance] = Long.MIN_VALUE;
      }
      if (headDeadline[instance] != Long.MAX_VALUE) {
        headSlack.record((double) (headDeadline[instance] - now) / slo.latencyNanos());
        headDeadline[instance] = Long.MAX_VALUE;
      }
    }
    if (computeNanos >= 0) {
      passes.record(rows, computeNanos);
      if (firstPass == Long.MIN_VALUE) {
        firstPass = now;
      }
      if (!warnedShortObjective && warm(now) && passes.mean(1) > slo.latencyNanos()) {
        warnedShortObjective = true;
        log.warn(
            "model '{}': one row takes about {} ms, longer than its latency objective of {} ms:"
                + " nearly every request will be refused (only one that finds an instance idle"
                + " runs, and misses); raise slo.latency-ms or make the model faster",
            model,
            String.format(Locale.ROOT, "%.1f", passes.mean(1) / 1e6),
            String.format(Locale.ROOT, "%.1f", slo.latencyNanos() / 1e6));
      }
    }
  }

  /** Whether the objective-shorter-than-a-pass warning was logged (once per version). */
  private boolean warnedShortObjective;

  /** True once the pass times were learned long enough to refuse on them (see WARM_NANOS). */
  boolean warm(long now) {
    return passes.passes() >= WARM_PASSES
        && firstPass != Long.MIN_VALUE
        && now - firstPass >= WARM_NANOS;
  }

  @Override
  public PolicyState state(long now) {
    double rate = 0;
    if (gapNanos > 0 && lastArrival != Long.MIN_VALUE) {
      // An idle stream decays: the time since the last arrival counts as a gap in progress.
      double gap = Math.max(gapNanos, now - lastArrival);
      rate = 1e9 / gap;
    }
    return new PolicyState(
        "slo",
        recentRows,
        lastWaitNanos,
        rate,
        passes.ready() ? passes.table() : java.util.List.of(),
        refused,
        droppedLate,
        admission(now));
  }

  /** The quantiles the admission figures report. */
  private static final double[] REPORTED = {0.01, 0.1, 0.5, 0.9, 0.99};

  private PolicyState.Admission admission(long now) {
    double sloMs = slo.latencyNanos() / 1e6;
    java.util.List<PolicyState.Quantile> residual = new java.util.ArrayList<>();
    java.util.List<PolicyState.Quantile> slack = new java.util.ArrayList<>();
    for (double q : REPORTED) {
      if (calibration.size() > 0) {
        residual.add(new PolicyState.Quantile(q, calibration.quantile(q) * sloMs));
      }
      if (headSlack.size() > 0) {
        slack.add(new PolicyState.Quantile(q, headSlack.quantile(q) * sloMs));
      }
    }
    long[] counts = refusalMargins.counts();
    java.util.List<PolicyState.MarginBucket> margins = new java.util.ArrayList<>();
    for (int b = 0; b < counts.length; b++) {
      double upTo =
          b < RefusalMargins.EDGES.length
              ? RefusalMargins.EDGES[b] * sloMs
              : Double.POSITIVE_INFINITY;
      margins.add(new PolicyState.MarginBucket(upTo, counts[b]));
    }
    java.util.List<PolicyState.DepthBucket> depths = new java.util.ArrayList<>();
    for (int d = 0; d < DepthCalibration.DEPTHS; d++) {
      PlanCalibration c = byDepth.at(d);
      depths.add(
          new PolicyState.DepthBucket(
              d,
              c.total(),
              c.size(),
              c.size() > 0 ? c.quantile(0.5) * sloMs : Double.NaN,
              c.size() > 0 ? c.quantile(0.99) * sloMs : Double.NaN,
              depthOffsetNanos(d) / 1e6));
    }
    return new PolicyState.Admission(
        calibration.total(),
        calibration.size(),
        residual,
        slack,
        toleranceNanos() / 1e6,
        margins,
        depthQuantile,
        depths,
        dropGuardNanos(now) / 1e6);
  }

  private static String ms(long nanos) {
    double ms = nanos / 1e6;
    return String.format(Locale.ROOT, ms < 10 ? "%.2f" : ms < 100 ? "%.1f" : "%.0f", ms);
  }

  private String percentile() {
    return PlainNumbers.plain(slo.percentile());
  }

  @Override
  public String toString() {
    return "SloBatchingPolicy" + Arrays.toString(runningRows);
  }
}
