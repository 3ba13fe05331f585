package dev.fulcrum.core.config;

import java.util.List;

/**
 * How a model version's queue and batcher behave: Triton's {@code dynamic_batching} and its {@code
 * default_queue_policy}, with Fulcrum's one difference: the queue is bounded by default, so that
 * overload is refused quickly instead of queued forever.
 *
 * @param dynamicBatching whether requests are combined into batches (only for batching models)
 * @param maxQueueDelayMicros how long the batcher may hold the oldest request to grow a batch; 0
 *     (default): take what is queued, never wait
 * @param preferredBatchSizes batch sizes to dispatch at once when reached, ascending
 * @param preserveOrdering whether responses leave in the order requests arrived
 * @param priorityLevels number of priority levels (0: priorities off); level 1 is the highest
 * @param defaultPriorityLevel the level of a request that gives none (0: the lowest level)
 * @param maxQueueSize requests that may wait at once; more are rejected at once (0: unbounded)
 * @param defaultTimeoutMicros how long a request may wait in the queue (0: no limit)
 * @param timeoutAction what happens to a request whose time in the queue ran out
 * @param allowTimeoutOverride whether a request's {@code timeout} parameter may lower the default
 */
public record SchedulingConfig(
    boolean dynamicBatching,
    long maxQueueDelayMicros,
    List<Integer> preferredBatchSizes,
    boolean preserveOrdering,
    int priorityLevels,
    int defaultPriorityLevel,
    int maxQueueSize,
    long defaultTimeoutMicros,
    TimeoutAction timeoutAction,
    boolean allowTimeoutOverride) {

  /** Fulcrum's default bound on waiting requests per model version. */
  public static final int DEFAULT_MAX_QUEUE_SIZE = 1024;

  /** What to do with a request whose queue timeout passed. */
  public enum TimeoutAction {
    /** Answer it with a timeout error; it never runs (Triton's default). */
    REJECT,
    /** Keep it, but behind every request that has not timed out. */
    DELAY
  }

  public SchedulingConfig {
    preferredBatchSizes = List.copyOf(preferredBatchSizes);
  }

  /** Batching on, no delay, bounded queue, no priorities, no timeouts. */
  public static SchedulingConfig defaults() {
    return new SchedulingConfig(
        true, 0, List.of(), false, 0, 0, DEFAULT_MAX_QUEUE_SIZE, 0, TimeoutAction.REJECT, false);
  }

  /** The effective number of priority queues (at least one). */
  public int levels() {
    return Math.max(1, priorityLevels);
  }

  public SchedulingConfig withDynamicBatching(boolean on) {
    return toBuilder().dynamicBatching(on).build();
  }

  public SchedulingConfig withMaxQueueSize(int size) {
    return toBuilder().maxQueueSize(size).build();
  }

  public SchedulingConfig withMaxQueueDelayMicros(long micros) {
    return toBuilder().maxQueueDelayMicros(micros).build();
  }

  public SchedulingConfig withTimeout(long defaultMicros, TimeoutAction action, boolean override) {
    return toBuilder()
        .defaultTimeoutMicros(defaultMicros)
        .timeoutAction(action)
        .allowTimeoutOverride(override)
        .build();
  }

  public SchedulingConfig withPriorities(int levels, int defaultLevel) {
    return toBuilder().priorityLevels(levels).defaultPriorityLevel(defaultLevel).build();
  }

  public SchedulingConfig withPreferredBatchSizes(List<Integer> sizes, boolean preserve) {
    return toBuilder().preferredBatchSizes(sizes).preserveOrdering(preserve).build();
  }

  private Builder toBuilder() {
    Builder b = new Builder();
    b.dynamicBatching = dynamicBatching;
    b.maxQueueDelayMicros = maxQueueDelayMicros;
    b.preferredBatchSizes = preferredBatchSizes;
    b.preserveOrdering = preserveOrdering;
    b.priorityLevels = priorityLevels;
    b.defaultPriorityLevel = defaultPriorityLevel;
    b.maxQueueSize = maxQueueSize;
    b.defaultTimeoutMicros = defaultTimeoutMicros;
    b.timeoutAction = timeoutAction;
    b.allowTimeoutOverride = allowTimeoutOverride;
    return b;
  }

  /** Changes some fields of a configuration; used by the with-methods. Not thread-safe. */
  private static final class Builder {
    private boolean dynamicBatching;
    private long maxQueueDelayMicros;
    private List<Integer> preferredBatchSizes = List.of();
    private boolean preserveOrdering;
    private int priorityLevels;
    private int defaultPriorityLevel;
    private int maxQueueSize;
    private long defaultTimeoutMicros;
    private TimeoutAction timeoutAction = TimeoutAction.REJECT;
    private boolean allowTimeoutOverride;

    Builder dynamicBatching(boolean v) {
      dynamicBatching = v;
      return this;
    }

    Builder maxQueueDelayMicros(long v) {
      maxQueueDelayMicros = v;
      return this;
    }

    Builder preferredBatchSizes(List<Integer> v) {
      preferredBatchSizes = v;
      return this;
    }

    Builder preserveOrdering(boolean v) {
      preserveOrdering = v;
      return this;
    }

    Builder priorityLevels(int v) {
      priorityLevels = v;
      return this;
    }

    Builder defaultPriorityLevel(int v) {
      defaultPriorityLevel = v;
      return this;
    }

    Builder maxQueueSize(int v) {
      maxQueueSize = v;
      return this;
    }

    Builder defaultTimeoutMicros(long v) {
      defaultTimeoutMicros = v;
      return this;
    }

    Builder timeoutAction(TimeoutAction v) {
      timeoutAction = v;
      return this;
    }

    Builder allowTimeoutOverride(boolean v) {
      allowTimeoutOverride = v;
      return this;
    }

    SchedulingConfig build() {
      return new SchedulingConfig(
          dynamicBatching,
          maxQueueDelayMicros,
          preferredBatchSizes,
          preserveOrdering,
          priorityLevels,
          defaultPriorityLevel,
          maxQueueSize,
          defaultTimeoutMicros,
          timeoutAction,
          allowTimeoutOverride);
    }
  }
}
