package dev.fulcrum.core.scheduler;

import java.util.List;

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
 */
public record PolicyState(
    String policy,
    double batchSize,
    long queueDelayNanos,
    double arrivalsPerSecond,
    List<PassTime> passTimes,
    long refusedAtAdmission,
    long droppedInQueue) {

  public PolicyState {
    passTimes = List.copyOf(passTimes);
  }

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
