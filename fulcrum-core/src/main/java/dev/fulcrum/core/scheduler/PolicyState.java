package dev.fulcrum.core.scheduler;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A copy of what a model version's batching policy does now. Immutable.
 *
 * @param policy {@code static} (Triton's dynamic batcher) or {@code slo}
 * @param batchSize the rows of the batches it forms now (an average over the last passes; 0 before
 *     the first)
 * @param queueDelayNanos how long it holds a batch to let it grow: the configured delay for the
 *     static policy, the latest chosen wait for the SLO policy
 * @param arrivalsPerSecond the arrival rate it estimates (0 when it does not)
 * @param passTimes what it learned a pass costs per batch size (empty for the static policy)
 * @param refusedAtAdmission requests it refused on arrival for the objective, since the version
 *     loaded (0 for the static policy)
 * @param droppedInQueue requests it admitted and later dropped from the queue because their
 *     deadline had become unreachable (late refusals), since the version loaded
 * @param admission why the SLO policy admits and refuses: its plan against outcomes and its refusal
 *     margins ({@code null} for the static policy)
 */
public record PolicyState(
    String policy,
    double batchSize,
    long queueDelayNanos,
    double arrivalsPerSecond,
    List<PassTime> passTimes,
    long refusedAtAdmission,
    long droppedInQueue,
    @Nullable Admission admission) {

  public PolicyState {
    passTimes = List.copyOf(passTimes);
  }

  /** A state without admission figures (the static policy's). */
  public PolicyState(
      String policy,
      double batchSize,
      long queueDelayNanos,
      double arrivalsPerSecond,
      List<PassTime> passTimes,
      long refusedAtAdmission,
      long droppedInQueue) {
    this(
        policy,
        batchSize,
        queueDelayNanos,
        arrivalsPerSecond,
        passTimes,
        refusedAtAdmission,
        droppedInQueue,
        null);
  }

  /**
   * Admission's plans {@code depth} passes deep (the last depth: that deep or deeper) against their
   * outcomes: heads recorded since start ({@code outcomes}) and in the window, the window's median
   * and p99 of realized less planned finish (NaN when empty), and what admission adds to a plan
   * that deep now ({@code offsetMs}, at most 0).
   */
  public record DepthBucket(
      int depth, long outcomes, int window, double p50Ms, double p99Ms, double offsetMs) {}

  /**
   * What the SLO policy's admission did and why (issue #10): how its plan compared with what
   * happened, and how far past the deadline it predicted the requests it refused would finish.
   *
   * @param heads batch heads admitted with a plan whose outcome was measured, since start
   * @param window of them, in the recent window the quantiles below are over
   * @param realizedLessPlannedMs quantiles of a head's realized finish less its planned finish, in
   *     ms (negative: the plan over-predicted); bucketed, clamped to half the objective either way
   * @param headSlackMs quantiles of the slack recent batch heads had at their pass's end (deadline
   *     less finish, in ms; a late drop counts negative), same window and bucketing
   * @param toleranceMs how far past the deadline admission lets a plan end now, in ms (learned from
   *     that slack; 0 under overload and after a late drop)
   * @param refusalMargins refusals since start by how far past the deadline admission predicted
   *     they would finish
   * @param depthQuantile the quantile of realized less planned finish, per depth, that admission
   *     adds to a plan as deep when it is below 0 (NaN: measured only)
   * @param byDepth those outcomes by the depth of the plan (passes counted ahead of its own)
   * @param dropGuardMs what admission adds now to a plan with full batches ahead after late drops,
   *     in ms (0 until a request admitted on such a plan is dropped in the queue; it halves every
   *     10 s)
   */
  public record Admission(
      long heads,
      int window,
      List<Quantile> realizedLessPlannedMs,
      List<Quantile> headSlackMs,
      double toleranceMs,
      List<MarginBucket> refusalMargins,
      double depthQuantile,
      List<DepthBucket> byDepth,
      double dropGuardMs) {
    public Admission {
      byDepth = List.copyOf(byDepth);
      realizedLessPlannedMs = List.copyOf(realizedLessPlannedMs);
      headSlackMs = List.copyOf(headSlackMs);
      refusalMargins = List.copyOf(refusalMargins);
    }
  }

  /** One quantile (0-1) of a distribution and its value in ms. */
  public record Quantile(double quantile, double ms) {}

  /**
   * One bucket of the refusal margins: the refusals whose predicted finish lay past the deadline by
   * more than the previous bucket's bound and at most {@code upToMs} (infinite: the last).
   */
  public record MarginBucket(double upToMs, long count) {}

  /**
   * The pass time of one batch size.
   *
   * @param batchSize rows in the pass
   * @param meanNanos the expected pass time
   * @param quantileNanos the pass time the policy plans with (the objective's percentile)
   * @param samples passes of this size measured (0: fitted from the other sizes)
   */
  public record PassTime(int batchSize, long meanNanos, long quantileNanos, long samples) {}
}
