package dev.fulcrum.core.config;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * How a model version's queue and batcher behave: Triton's {@code dynamic_batching} and its {@code
 * default_queue_policy} and {@code priority_queue_policy}, with Fulcrum's one difference: the queue
 * is bounded by default, so that overload is refused quickly instead of queued forever.
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
 * @param priorityQueuePolicies Triton's {@code priority_queue_policy}: the priority levels (1 ..
 *     {@code priorityLevels}) that have a queue policy of their own, each with it; the other levels
 *     take the four fields above ({@code default_queue_policy}), whose {@code maxQueueSize} then
 *     bounds the requests waiting at those levels together
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
    boolean allowTimeoutOverride,
    Map<Integer, QueuePolicy> priorityQueuePolicies) {

  /** Fulcrum's default bound on waiting requests per model version. */
  public static final int DEFAULT_MAX_QUEUE_SIZE = 1024;

  /** What to do with a request whose queue timeout passed. */
  public enum TimeoutAction {
    /** Answer it with a timeout error; it never runs (Triton's default). */
    REJECT,
    /** Keep it, but behind every request that has not timed out. */
    DELAY
  }

  /**
   * Triton's {@code ModelQueuePolicy} of one priority level: its own bound on the requests waiting
   * at that level (0: unbounded) and its own queue timeout, action and override.
   */
  public record QueuePolicy(
      int maxQueueSize,
      long defaultTimeoutMicros,
      TimeoutAction timeoutAction,
      boolean allowTimeoutOverride) {}

  public SchedulingConfig {
    preferredBatchSizes = List.copyOf(preferredBatchSizes);
    priorityQueuePolicies =
        java.util.Collections.unmodifiableMap(new TreeMap<>(priorityQueuePolicies));
  }

  /** Batching on, no delay, bounded queue, no priorities, no timeouts. */
  public static SchedulingConfig defaults() {
    return new SchedulingConfig(
        true,
        0,
        List.of(),
        false,
        0,
        0,
        DEFAULT_MAX_QUEUE_SIZE,
        0,
        TimeoutAction.REJECT,
        false,
        Map.of());
  }

  /** The default queue policy ({@code queue-policy}, Triton's {@code default_queue_policy}). */
  public QueuePolicy defaultQueuePolicy() {
    return new QueuePolicy(maxQueueSize, defaultTimeoutMicros, timeoutAction, allowTimeoutOverride);
  }

  /**
   * The queue policy of priority {@code level} (1 the highest): its own where {@link
   * #priorityQueuePolicies} gives one, else the default.
   */
  public QueuePolicy queuePolicy(int level) {
    QueuePolicy own = priorityQueuePolicies.get(level);
    return own != null ? own : defaultQueuePolicy();
  }

  /** The effective number of priority queues (at least one). */
  public int levels() {
    return Math.max(1, priorityLevels);
  }

  public SchedulingConfig withDynamicBatching(boolean on) {
    return with(b -> b.dynamicBatching = on);
  }

  public SchedulingConfig withMaxQueueSize(int size) {
    return with(b -> b.maxQueueSize = size);
  }

  public SchedulingConfig withMaxQueueDelayMicros(long micros) {
    return with(b -> b.maxQueueDelayMicros = micros);
  }

  public SchedulingConfig withTimeout(long defaultMicros, TimeoutAction action, boolean override) {
    return with(
        b -> {
          b.defaultTimeoutMicros = defaultMicros;
          b.timeoutAction = action;
          b.allowTimeoutOverride = override;
        });
  }

  public SchedulingConfig withPriorityQueuePolicies(Map<Integer, QueuePolicy> policies) {
    return with(b -> b.priorityQueuePolicies = policies);
  }

  public SchedulingConfig withPriorities(int levels, int defaultLevel) {
    return with(
        b -> {
          b.priorityLevels = levels;
          b.defaultPriorityLevel = defaultLevel;
        });
  }

  public SchedulingConfig withPreferredBatchSizes(List<Integer> sizes, boolean preserve) {
    return with(
        b -> {
          b.preferredBatchSizes = sizes;
          b.preserveOrdering = preserve;
        });
  }

  /** This configuration with the fields that {@code change} sets replaced. */
  private SchedulingConfig with(Consumer<Builder> change) {
    Builder b = new Builder(this);
    change.accept(b);
    return b.build();
  }

  /**
   * A configuration's fields, open to change; the with-methods set some and build. Not thread-safe.
   */
  private static final class Builder {
    private boolean dynamicBatching;
    private long maxQueueDelayMicros;
    private List<Integer> preferredBatchSizes;
    private boolean preserveOrdering;
    private int priorityLevels;
    private int defaultPriorityLevel;
    private int maxQueueSize;
    private long defaultTimeoutMicros;
    private TimeoutAction timeoutAction;
    private boolean allowTimeoutOverride;
    private Map<Integer, QueuePolicy> priorityQueuePolicies;

    Builder(SchedulingConfig c) {
      dynamicBatching = c.dynamicBatching;
      maxQueueDelayMicros = c.maxQueueDelayMicros;
      preferredBatchSizes = c.preferredBatchSizes;
      preserveOrdering = c.preserveOrdering;
      priorityLevels = c.priorityLevels;
      defaultPriorityLevel = c.defaultPriorityLevel;
      maxQueueSize = c.maxQueueSize;
      defaultTimeoutMicros = c.defaultTimeoutMicros;
      timeoutAction = c.timeoutAction;
      allowTimeoutOverride = c.allowTimeoutOverride;
      priorityQueuePolicies = c.priorityQueuePolicies;
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
          allowTimeoutOverride,
          priorityQueuePolicies);
    }
  }
}
