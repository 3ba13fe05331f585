package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.config.SchedulingConfig;
import java.util.List;
import java.util.function.IntSupplier;

/**
 * Triton's dynamic batcher, the policy of a model without a latency objective: the batch leaves at
 * once when it is full, reaches a preferred size, or the queue delay is 0; otherwise when its
 * oldest request has waited {@code max-queue-delay-microseconds}. Not thread-safe (guarded by the
 * scheduler's lock).
 */
final class StaticBatchingPolicy implements BatchingPolicy {
  private final List<Integer> preferred;
  private final int maxBatchSize;
  private final long maxDelayNanos;
  private double recentRows;

  StaticBatchingPolicy(SchedulingConfig config, int maxBatchSize) {
    this.preferred = config.preferredBatchSizes();
    this.maxBatchSize = Math.max(1, maxBatchSize);
    this.maxDelayNanos = config.maxQueueDelayMicros() * 1000L;
  }

  @Override
  public Decision decide(PendingRequest head, boolean joins, IntSupplier joinable, long now) {
    if (!joins) {
      return new Take(maxBatchSize);
    }
    long waited = now - head.arrivalNanos;
    if (maxDelayNanos != 0 && waited < maxDelayNanos) {
      // Not due yet: only a full or preferred batch leaves now.
      int rows = joinable.getAsInt();
      if (rows < maxBatchSize && !preferred(rows)) {
        return new Wait(maxDelayNanos - waited);
      }
    }
    return new Take(maxBatchSize);
  }

  private boolean preferred(int rows) {
    return !preferred.isEmpty()
        && (preferred.contains(rows) || rows >= preferred.get(preferred.size() - 1));
  }

  @Override
  public void started(int instance, int rows, long now) {
    recentRows = recentRows == 0 ? rows : 0.9 * recentRows + 0.1 * rows;
  }

  @Override
  public PolicyState state(long now) {
    return new PolicyState("static", recentRows, maxDelayNanos, 0, List.of(), 0, 0);
  }
}
