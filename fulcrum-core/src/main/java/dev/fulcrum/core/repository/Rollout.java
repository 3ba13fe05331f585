package dev.fulcrum.core.repository;

import dev.fulcrum.core.config.PlainNumbers;
import dev.fulcrum.core.config.RolloutConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.scheduler.Ticker;
import java.util.Arrays;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A canary rollout of one model (docs/MODEL_CONFIG.md, "Canary rollouts"): which of two serving
 * versions, the newest (the canary) and its baseline (the stable version: the newest other one
 * never rolled back, chosen by the manager), a request that names no version goes to, and the
 * judgement that rolls the canary back or promotes it, from the outcomes of the requests it split.
 *
 * <p>The split is deterministic: of every 100 unversioned requests, the canary gets exactly {@code
 * canary-traffic-percent}, spread evenly (request n goes to the canary when {@code floor((n+1)p /
 * 100) > floor(np / 100)}, n counted modulo 100: at 10 % every tenth request), so that a test or an
 * operator counting answers sees the stated share without randomness. A request that names a
 * version never comes here.
 *
 * <p>The judgement compares the last {@code window} requests of each version once the canary has
 * answered {@code min-requests} (then every {@link #judgeEvery} canary answers: 10, or a hundredth
 * of the window when that is more, so that sorting the windows costs a request O(log window)): the
 * share of failed requests (server errors, not a client's 4xx, not a cancellation), p99 latency
 * (from admission to answer), and with a latency objective the share of requests over it. A breach
 * rolls back (share 0, verdict {@link Verdict#ROLLED_BACK}, reason recorded and logged); {@code
 * promote-after-requests} canary answers (and {@code promote-after-seconds}) without one promotes
 * (share 100, {@link Verdict#PROMOTED}); the stable version keeps serving requests pinned to it
 * until the version policy drops it. A verdict is final until an operator sets a share again
 * ({@link #setPercent}), which judges afresh.
 *
 * <p>With {@code canary-steps} the share steps up: a judgement without a breach at a step that is
 * not the last moves the canary to the next step's share and empties its window, so that each step
 * is judged on its own {@code min-requests} answers against the stable version's window (which
 * carries on); promotion is judged at the last step only, {@code promote-after-requests} and {@code
 * promote-after-seconds} counted from its start. One share is a single step, the last, which begins
 * with the rollout. A share set by hand holds: stepping stops there (step -1), and the canary is
 * judged at it as at a last step.
 *
 * <p>Thread-safe: the split is one atomic increment and two volatile reads; each version's window
 * is guarded by its own lock, the judgement and the operator's actions by this object's.
 */
public final class Rollout {
  private static final Logger log = LoggerFactory.getLogger(Rollout.class);

  /** The fewest canary answers between two judgements, once min-requests have answered. */
  private static final int JUDGE_EVERY = 10;

  /**
   * How many canary answers pass between two judgements: {@link #JUDGE_EVERY}, or a hundredth of
   * the window when that is more (a judgement copies and sorts both windows, on the thread that
   * completed the answer).
   */
  private final int judgeEvery;

  /** Where the rollout stands. */
  public enum Verdict {
    /** The canary gets its share and is judged. */
    PROGRESSING,
    /** The canary gets every unversioned request; judgement has stopped. */
    PROMOTED,
    /** The stable version gets every unversioned request; judgement has stopped. */
    ROLLED_BACK
  }

  private final String model;
  private final long canaryVersion;
  private final long stableVersion;
  private final RolloutConfig config;
  private final long sloNanos;
  private final Ticker ticker;
  private final AtomicLong split = new AtomicLong();
  private final Arm canary;
  private final Arm stable;

  /** The versions' objects that serve now (rebound when one is reloaded); set before publishing. */
  private volatile @Nullable ModelVersion canaryServing;

  private volatile @Nullable ModelVersion stableServing;

  private volatile int percent;

  /**
   * The index of the step whose share the canary has (of {@code canary-steps}); -1: set by hand.
   */
  private volatile int step;

  private volatile Verdict verdict = Verdict.PROGRESSING;
  private volatile String reason = "";

  /**
   * Guarded by this: when judging at this step (re)started, and the verdicts so far (carried from a
   * former).
   */
  private long judgedSince;

  private final AtomicLong rolledBack = new AtomicLong();
  private final AtomicLong promoted = new AtomicLong();

  /**
   * Told of each verdict and each share set by hand (the durable record); set before publishing.
   */
  private volatile @Nullable Listener listener;

  /**
   * Told when a rollout's verdict changes: it reached one, an operator gave one, or an operator set
   * a share (judged afresh). Called under the rollout's lock, on the thread that changed it (a
   * request's, or the operator's): it must not block.
   */
  @FunctionalInterface
  interface Listener {
    void changed(Rollout rollout);
  }

  /**
   * @param sloNanos the model's latency objective (0: none, misses are not judged)
   * @param former the rollout this one follows for the same model (its verdict counts carry on, as
   *     a metric's counters must), or null
   */
  public Rollout(
      String model,
      long canaryVersion,
      long stableVersion,
      RolloutConfig config,
      long sloNanos,
      Ticker ticker,
      @Nullable Rollout former) {
    this.model = model;
    this.canaryVersion = canaryVersion;
    this.stableVersion = stableVersion;
    this.config = config;
    this.judgeEvery = Math.max(JUDGE_EVERY, config.window() / 100);
    this.sloNanos = sloNanos;
    this.ticker = ticker;
    this.canary = new Arm(config.window());
    this.stable = new Arm(config.window());
    this.percent = config.canaryTrafficPercent();
    this.judgedSince = ticker.nanoTime();
    if (former != null) {
      rolledBack.set(former.rolledBack.get());
      promoted.set(former.promoted.get());
    }
  }

  public String model() {
    return model;
  }

  public long canaryVersion() {
    return canaryVersion;
  }

  public long stableVersion() {
    return stableVersion;
  }

  public RolloutConfig config() {
    return config;
  }

  /** The canary's share of unversioned requests now, 0 to 100. */
  public int percent() {
    return percent;
  }

  /**
   * The index in {@code canary-steps} of the step the canary is at (0 with one share), or -1 once
   * an operator has set a share by hand. After a verdict, the step it was reached at.
   */
  public int step() {
    return step;
  }

  /** The canary's answers judged at this step: since it began, or since a share was set by hand. */
  public long stepRequests() {
    return canary.sinceReset();
  }

  public Verdict verdict() {
    return verdict;
  }

  /** Why the verdict was reached ("" while progressing as configured). */
  public String reason() {
    return reason;
  }

  /** Rollbacks of this model's canaries so far, automatic and by hand. */
  public long rolledBackCount() {
    return rolledBack.get();
  }

  /** Promotions of this model's canaries so far, automatic and by hand. */
  public long promotedCount() {
    return promoted.get();
  }

  /** The clock the request latencies are read from. */
  public long now() {
    return ticker.nanoTime();
  }

  /** Whether this rollout is between the same versions under the same rules (so it carries on). */
  boolean sameAs(long canaryV, long stableV, RolloutConfig c, long slo) {
    return canaryVersion == canaryV
        && stableVersion == stableV
        && config.equals(c)
        && sloNanos == slo;
  }

  /** Sets the listener of its verdicts (before the manager publishes it). */
  void listen(Listener l) {
    this.listener = l;
  }

  /**
   * Starts this rollout rolled back, as a former run of the server left its canary (the durable
   * record, {@code --rollout-state-dir}): share 0 and no judgement, until an operator sets a share;
   * not counted as a rollback of this run (none was reached in it). Before the manager publishes
   * it.
   */
  synchronized void resumeRolledBack(String why) {
    percent = 0;
    reason = why;
    verdict = Verdict.ROLLED_BACK;
    warnRolledBack("stays rolled back", why);
  }

  /** Logs that the canary is (or {@code how} else) rolled back, and why. */
  private void warnRolledBack(String how, String why) {
    log.warn(
        "model '{}': canary version {} {}, every unversioned request goes to version {}: {}",
        model,
        canaryVersion,
        how,
        stableVersion,
        why);
  }

  private void tell() {
    Listener l = listener;
    if (l != null) {
      try {
        l.changed(this);
      } catch (RuntimeException e) {
        log.warn("model '{}': the rollout's listener failed", model, e);
      }
    }
  }

  /** Binds the serving objects of the two versions (before the manager publishes them). */
  void bind(ModelVersion canaryMv, ModelVersion stableMv) {
    this.canaryServing = canaryMv;
    this.stableServing = stableMv;
  }

  /**
   * Whether the next unversioned request goes to the canary: exactly {@code percent} of every 100,
   * spread evenly.
   */
  public boolean toCanary() {
    int p = percent;
    if (p <= 0) {
      return false;
    }
    if (p >= 100) {
      return true;
    }
    long m = Math.floorMod(split.getAndIncrement(), 100L);
    return ((m + 1) * p) / 100 > (m * p) / 100;
  }

  /**
   * The version an unversioned request goes to, given the one the version policy serves newest;
   * that one when the chosen version is not ready (a swap in progress), or when it is not this
   * rollout's canary.
   */
  ModelVersion pick(ModelVersion newest) {
    ModelVersion c = canaryServing;
    ModelVersion s = stableServing;
    if (c == null || s == null || newest != c) {
      return newest;
    }
    ModelVersion chosen = toCanary() ? c : s;
    return chosen.isReady() ? chosen : newest;
  }

  /**
   * Counts the outcome of an unversioned request this rollout split, and judges the canary when it
   * is due.
   *
   * @param version the version that answered (a version of neither arm is ignored)
   * @param nanos from its admission to its answer
   * @param failure why it failed, or null when answered
   */
  public void record(long version, long nanos, @Nullable Throwable failure) {
    Arm arm = version == canaryVersion ? canary : version == stableVersion ? stable : null;
    if (arm == null) {
      return;
    }
    ErrorCode code = failure == null ? null : codeOf(failure);
    if (code == ErrorCode.CANCELLED) {
      return; // the client left: says nothing about the version
    }
    boolean failed = code != null && serverError(code);
    if (code != null && !failed) {
      return; // the client's mistake (4xx) or an overload refusal: not the version's doing
    }
    boolean missed =
        sloNanos > 0 && (code == ErrorCode.DEADLINE_EXCEEDED || (!failed && nanos > sloNanos));
    long answered = arm.add(nanos, failed, missed);
    if (arm == canary && verdict == Verdict.PROGRESSING) {
      long n = answered;
      if (n >= config.minRequests()
          && ((n - config.minRequests()) % judgeEvery == 0
              || (config.promoteAfterRequests() > 0 && n == config.promoteAfterRequests()))) {
        judge();
      }
    }
  }

  /** HTTP 5xx: the server's failure, which a canary is judged on. */
  private static boolean serverError(ErrorCode code) {
    return switch (code) {
      case INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED, UNIMPLEMENTED -> true;
      default -> false;
    };
  }

  private static ErrorCode codeOf(Throwable t) {
    Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    if (c instanceof CancellationException) {
      return ErrorCode.CANCELLED;
    }
    return c instanceof InferenceException e ? e.code() : ErrorCode.INTERNAL;
  }

  /** Compares the canary against the stable version, and rolls back or promotes it. */
  synchronized void judge() {
    if (verdict != Verdict.PROGRESSING) {
      return;
    }
    Window c = canary.window();
    Window s = stable.window();
    if (c.sinceReset() < config.minRequests()) {
      return;
    }
    String breach = breach(c, s);
    if (breach != null) {
      conclude(Verdict.ROLLED_BACK, breach);
      return;
    }
    int at = step;
    if (at >= 0 && at < config.canarySteps().size() - 1) {
      stepUp(at, c, s);
      return;
    }
    long promoteAfter = config.promoteAfterRequests();
    if (promoteAfter > 0
        && c.sinceReset() >= promoteAfter
        && ticker.nanoTime() - judgedSince >= config.promoteAfterNanos()) {
      conclude(
          Verdict.PROMOTED,
          String.format(
              java.util.Locale.ROOT,
              "%d canary requests without a breach (failed %.2f%% vs %.2f%%, p99 %.3f ms vs %.3f"
                  + " ms)",
              c.sinceReset(),
              c.failedPercent(),
              s.failedPercent(),
              c.p99Nanos() / 1e6,
              s.p99Nanos() / 1e6));
    }
  }

  /**
   * Moves the canary from step {@code at}, judged without a breach, to the next: its share, an
   * empty window, and the step's clock.
   */
  private void stepUp(int at, Window c, Window s) {
    int next = config.canarySteps().get(at + 1);
    canary.reset();
    judgedSince = ticker.nanoTime();
    step = at + 1;
    percent = next;
    log.info(
        "model '{}': canary version {} passed step {} of {} ({}%) after {} requests (failed {}% vs"
            + " {}%): it now gets {}% of unversioned requests",
        model,
        canaryVersion,
        at + 1,
        config.canarySteps().size(),
        config.canarySteps().get(at),
        c.sinceReset(),
        String.format(java.util.Locale.ROOT, "%.2f", c.failedPercent()),
        String.format(java.util.Locale.ROOT, "%.2f", s.failedPercent()),
        next);
  }

  /** The first rule the canary breaks, in words, or null. */
  private @Nullable String breach(Window c, Window s) {
    double failedUp = c.failedPercent() - s.failedPercent();
    if (failedUp > config.maxFailedPercentIncrease()) {
      return String.format(
          java.util.Locale.ROOT,
          "failed requests %.2f%% on the canary vs %.2f%% on the stable version (%d of the last %d"
              + " canary requests), more than max-failed-percent-increase %s points",
          c.failedPercent(),
          s.failedPercent(),
          c.failed(),
          c.size(),
          PlainNumbers.plain(config.maxFailedPercentIncrease()));
    }
    if (sloNanos > 0) {
      double missUp = c.missPercent() - s.missPercent();
      if (missUp > config.maxSloMissPercentIncrease()) {
        return String.format(
            java.util.Locale.ROOT,
            "latency objective missed by %.2f%% of the canary's requests vs %.2f%% of the stable"
                + " version's, more than max-slo-miss-percent-increase %s points",
            c.missPercent(),
            s.missPercent(),
            PlainNumbers.plain(config.maxSloMissPercentIncrease()));
      }
    }
    int enough = Math.min(config.minRequests(), config.window());
    if (s.size() >= enough && c.size() >= enough) {
      long cp = c.p99Nanos();
      long sp = s.p99Nanos();
      if (cp - sp > config.p99SlackNanos() && cp > config.maxP99Ratio() * sp) {
        return String.format(
            java.util.Locale.ROOT,
            "p99 latency %.3f ms on the canary vs %.3f ms on the stable version, more than"
                + " max-p99-ratio %s",
            cp / 1e6,
            sp / 1e6,
            PlainNumbers.plain(config.maxP99Ratio()));
      }
    }
    return null;
  }

  private void conclude(Verdict v, String why) {
    percent = v == Verdict.PROMOTED ? 100 : 0;
    reason = why;
    verdict = v;
    (v == Verdict.PROMOTED ? promoted : rolledBack).incrementAndGet();
    tell();
    if (v == Verdict.ROLLED_BACK) {
      warnRolledBack("rolled back", why);
    } else {
      log.info(
          "model '{}': canary version {} promoted, every unversioned request goes to it: {}",
          model,
          canaryVersion,
          why);
    }
  }

  /** Rolls the canary back by hand: share 0, until a share is set again. */
  public synchronized void rollBack(String why) {
    byHand(Verdict.ROLLED_BACK, why, "rolled back by hand");
  }

  /** Promotes the canary by hand: share 100, until a share is set again. */
  public synchronized void promote(String why) {
    byHand(Verdict.PROMOTED, why, "promoted by hand");
  }

  /** Under the lock: an operator's verdict, its reason {@code otherwise} when none was given. */
  private void byHand(Verdict v, String why, String otherwise) {
    if (verdict == v) {
      return; // a repeated (retried) request: counted once
    }
    conclude(v, why.isBlank() ? otherwise : why);
  }

  /**
   * Sets the canary's share by hand and judges it afresh: the verdict returns to progressing and
   * both windows start empty, so a canary rolled back and fixed is not judged on its old answers.
   * The share holds: a stepped rollout stops stepping (step -1) and is judged as at its last step
   * (promoted after {@code promote-after-requests}); with one share, setting that share again
   * returns to it (step 0).
   */
  public synchronized void setPercent(int p) {
    if (p < 0 || p > 100) {
      throw InferenceException.invalid("canary_traffic_percent must be 0 to 100, was %d", p);
    }
    boolean configured = !config.stepped() && p == config.canaryTrafficPercent();
    judgeAfresh(p, configured ? 0 : -1, configured ? "" : "share set by hand to " + p + "%");
    log.info(
        "model '{}': canary version {} gets {}% of unversioned requests (set by hand), judged"
            + " afresh",
        model, canaryVersion, p);
    tell();
  }

  /**
   * Sets the rollout going anew from its configured first step, as a changed {@code rollout:} would
   * (Argo Rollouts' {@code retry}): the share the operator set by hand, or the verdict, is cleared;
   * the canary gets the first step's share, both windows start empty and it steps up again as
   * configured. The verdict counts carry on.
   */
  public synchronized void restart() {
    judgeAfresh(config.canaryTrafficPercent(), 0, "");
    log.info(
        "model '{}': canary version {} set going anew (by hand) at its first step: {}% of"
            + " unversioned requests",
        model, canaryVersion, percent);
    tell();
  }

  /**
   * Under the lock: the canary at {@code share} and {@code atStep}, progressing for {@code why},
   * both windows empty and the step's clock started, so that it is judged on new answers only.
   */
  private void judgeAfresh(int share, int atStep, String why) {
    canary.reset();
    stable.reset();
    judgedSince = ticker.nanoTime();
    step = atStep;
    percent = share;
    reason = why;
    verdict = Verdict.PROGRESSING;
  }

  /**
   * The split requests one version has answered or failed since the rollout began (as {@link
   * ArmStats#requests}, without copying its window).
   *
   * @param canaryArm the canary's, else the stable version's
   */
  public long requests(boolean canaryArm) {
    return (canaryArm ? canary : stable).total();
  }

  /** Of {@link #requests}, those failed with a server error (as {@link ArmStats#failed}). */
  public long failedRequests(boolean canaryArm) {
    return (canaryArm ? canary : stable).totalFailed();
  }

  /** The canary's figures now. */
  public ArmStats canaryStats() {
    return canary.stats(canaryVersion);
  }

  /** The stable version's figures now. */
  public ArmStats stableStats() {
    return stable.stats(stableVersion);
  }

  /**
   * One version's figures.
   *
   * @param requests answered or failed since the rollout began (client errors and cancellations
   *     left out)
   * @param failed of them, server errors
   * @param sloMisses of them, over the latency objective (0 without one)
   * @param windowRequests the requests in the window the judgement compares (since a share was last
   *     set by hand, at most {@code window})
   * @param failedPercent the window's failed share, in percent
   * @param sloMissPercent the window's share over the objective, in percent
   * @param p99Nanos the window's p99 latency (0 when empty)
   */
  public record ArmStats(
      long version,
      long requests,
      long failed,
      long sloMisses,
      int windowRequests,
      double failedPercent,
      double sloMissPercent,
      long p99Nanos) {}

  /** A copy of one version's window. Immutable once made. */
  private static final class Window {
    private final long sinceReset;
    private final int size;
    private final int failed;
    private final int missed;
    private final long[] latencies;

    /** The p99, once computed (-1 before): a window is read by one thread, the judging one. */
    private long p99 = -1;

    Window(long sinceReset, int size, int failed, int missed, long[] latencies) {
      this.sinceReset = sinceReset;
      this.size = size;
      this.failed = failed;
      this.missed = missed;
      this.latencies = latencies;
    }

    long sinceReset() {
      return sinceReset;
    }

    int size() {
      return size;
    }

    int failed() {
      return failed;
    }

    double failedPercent() {
      return size == 0 ? 0 : 100.0 * failed / size;
    }

    double missPercent() {
      return size == 0 ? 0 : 100.0 * missed / size;
    }

    long p99Nanos() {
      if (p99 >= 0) {
        return p99;
      }
      if (size == 0) {
        p99 = 0;
        return 0;
      }
      long[] sorted = latencies; // the window's own copy of the ring
      Arrays.sort(sorted, 0, size);
      int rank = (int) Math.ceil(0.99 * size) - 1;
      p99 = sorted[Math.max(0, rank)];
      return p99;
    }
  }

  /** The last {@code window} outcomes of one version, in rings; thread-safe by its own lock. */
  private static final class Arm {
    private final long[] nanos;
    private final boolean[] failed;
    private final boolean[] missed;
    private int next;
    private int size;
    private int failedIn;
    private int missedIn;
    private long sinceReset;
    private long total;
    private long totalFailed;
    private long totalMissed;

    Arm(int window) {
      nanos = new long[window];
      failed = new boolean[window];
      missed = new boolean[window];
    }

    /** Adds an outcome; returns the requests since the last reset, this one included. */
    synchronized long add(long latency, boolean fail, boolean miss) {
      if (size == nanos.length) {
        failedIn -= failed[next] ? 1 : 0;
        missedIn -= missed[next] ? 1 : 0;
      } else {
        size++;
      }
      nanos[next] = latency;
      failed[next] = fail;
      missed[next] = miss;
      failedIn += fail ? 1 : 0;
      missedIn += miss ? 1 : 0;
      next = (next + 1) % nanos.length;
      total++;
      totalFailed += fail ? 1 : 0;
      totalMissed += miss ? 1 : 0;
      return ++sinceReset;
    }

    /** Answered or failed since the rollout began. */
    synchronized long total() {
      return total;
    }

    /** Of them, server errors. */
    synchronized long totalFailed() {
      return totalFailed;
    }

    synchronized long sinceReset() {
      return sinceReset;
    }

    synchronized void reset() {
      next = 0;
      size = 0;
      failedIn = 0;
      missedIn = 0;
      sinceReset = 0;
    }

    synchronized Window window() {
      return new Window(sinceReset, size, failedIn, missedIn, Arrays.copyOf(nanos, size));
    }

    ArmStats stats(long version) {
      Window w;
      long t;
      long f;
      long m;
      synchronized (this) {
        w = window();
        t = total;
        f = totalFailed;
        m = totalMissed;
      }
      return new ArmStats(
          version, t, f, m, w.size(), w.failedPercent(), w.missPercent(), w.p99Nanos());
    }
  }
}
