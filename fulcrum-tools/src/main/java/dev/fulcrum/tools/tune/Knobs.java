package dev.fulcrum.tools.tune;

import java.util.Locale;

/**
 * One configuration a trial applies: the knobs tune turns, in config.yaml's words; immutable.
 *
 * @param maxBatchSize {@code max-batch-size} (0: the model does not batch)
 * @param maxQueueDelayMicros {@code dynamic-batching.max-queue-delay-microseconds}; not used (0)
 *     when {@code sloPolicy}, which chooses its own wait
 * @param instanceCount {@code instance-count}
 * @param intraOpThreads {@code onnxruntime.intra-op-threads}
 * @param sloPolicy whether the model's {@code slo:} is set, which turns on the server's SLO
 *     batching policy instead of the static dynamic batcher
 */
record Knobs(
    int maxBatchSize,
    long maxQueueDelayMicros,
    int instanceCount,
    int intraOpThreads,
    boolean sloPolicy) {

  /** The same configuration with the knobs a policy ignores set to one value, to count it once. */
  Knobs normalized() {
    return sloPolicy || maxBatchSize <= 1
        ? new Knobs(maxBatchSize, 0, instanceCount, intraOpThreads, sloPolicy)
        : this;
  }

  /** A short label: {@code b=16 d=500us i=2 t=1} or {@code b=16 slo i=2 t=1}. */
  String label() {
    String batching = sloPolicy ? "slo" : "d=" + maxQueueDelayMicros + "us";
    return String.format(
        Locale.ROOT, "b=%d %s i=%d t=%d", maxBatchSize, batching, instanceCount, intraOpThreads);
  }
}
