package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.config.SchedulingConfig;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The waiting requests of one model version, one FIFO per priority level plus one for requests
 * delayed by a timeout, and the dynamic batcher's decision of what to run next. Pure logic: time is
 * passed in, and it is not thread-safe — {@link ModelScheduler} guards it with its lock.
 */
final class RequestQueue {
  /** No batch to run now: wait {@code waitNanos} (or until signalled when negative). */
  record Plan(List<PendingRequest> batch, long waitNanos) {
    static final Plan IDLE = new Plan(List.of(), -1);

    boolean ready() {
      return !batch.isEmpty();
    }
  }

  private final List<ArrayDeque<PendingRequest>> levels;
  private final ArrayDeque<PendingRequest> delayed = new ArrayDeque<>();
  private final SchedulingConfig config;
  private boolean dynamicBatching;
  private final int maxBatchSize;
  private final long maxDelayNanos;
  private int size;

  RequestQueue(SchedulingConfig config, boolean dynamicBatching, int maxBatchSize) {
    this.config = config;
    this.dynamicBatching = dynamicBatching;
    this.maxBatchSize = Math.max(1, maxBatchSize);
    this.maxDelayNanos = config.maxQueueDelayMicros() * 1000L;
    List<ArrayDeque<PendingRequest>> queues = new ArrayList<>();
    for (int i = 0; i < config.levels(); i++) {
      queues.add(new ArrayDeque<>());
    }
    this.levels = List.copyOf(queues);
  }

  /** Stops joining requests (the model turned out not to batch along dimension 0). */
  void stopJoining() {
    dynamicBatching = false;
  }

  int size() {
    return size;
  }

  /** Admits a request unless the queue is full; atomic under the caller's lock. */
  boolean offer(PendingRequest p) {
    if (config.maxQueueSize() > 0 && size >= config.maxQueueSize()) {
      return false;
    }
    levels.get(p.level).addLast(p);
    size++;
    return true;
  }

  /** Removes a queued request (cancelled or timed out); false if it is not queued. */
  boolean remove(PendingRequest p) {
    boolean removed = (p.delayed ? delayed : levels.get(p.level)).remove(p);
    if (removed) {
      size--;
    }
    return removed;
  }

  /**
   * Applies the timeout action to one request whose deadline passed: with REJECT it leaves the
   * queue (true: the caller answers it); with DELAY it moves behind every request on time.
   */
  boolean timeOut(PendingRequest p) {
    if (p.delayed || !levels.get(p.level).contains(p)) {
      return false;
    }
    if (config.timeoutAction() == SchedulingConfig.TimeoutAction.DELAY) {
      levels.get(p.level).remove(p);
      p.delayed = true;
      delayed.addLast(p);
      return false;
    }
    return remove(p);
  }

  /** Applies the timeout action to every request whose deadline is at or before {@code now}. */
  List<PendingRequest> expire(long now) {
    List<PendingRequest> rejected = new ArrayList<>();
    for (ArrayDeque<PendingRequest> q : levels) {
      for (PendingRequest p : List.copyOf(q)) {
        if (p.hasDeadline() && now - p.deadlineNanos >= 0 && timeOut(p)) {
          rejected.add(p);
        }
      }
    }
    return rejected;
  }

  /**
   * Decides what runs next. The oldest request of the highest non-empty level leads; compatible
   * requests (same input types and non-batch dims) join it in priority then arrival order while the
   * batch fits {@code max-batch-size}. The batch leaves at once when it is full, reaches a
   * preferred size, the queue delay is 0, or the leader has waited the queue delay; otherwise the
   * plan says how long to wait. Dispatched requests are removed from the queue.
   */
  Plan plan(long now) {
    PendingRequest head = head();
    if (head == null) {
      return Plan.IDLE;
    }
    if (!dynamicBatching || head.rows >= maxBatchSize) {
      // A request as large as a whole batch (or larger, for a model whose max-batch-size was
      // filled in from its graph) runs alone.
      remove(head);
      return new Plan(List.of(head), 0);
    }
    List<PendingRequest> batch = new ArrayList<>();
    int rows = 0;
    for (Iterator<PendingRequest> it = candidates(); it.hasNext() && rows < maxBatchSize; ) {
      PendingRequest p = it.next();
      if (rows + p.rows <= maxBatchSize && head.batchesWith(p)) {
        batch.add(p);
        rows += p.rows;
      }
    }
    long waited = now - head.arrivalNanos;
    boolean go =
        rows >= maxBatchSize || preferred(rows) || maxDelayNanos == 0 || waited >= maxDelayNanos;
    if (!go) {
      return new Plan(List.of(), maxDelayNanos - waited);
    }
    for (PendingRequest p : batch) {
      remove(p);
    }
    return new Plan(List.copyOf(batch), 0);
  }

  private boolean preferred(int rows) {
    List<Integer> sizes = config.preferredBatchSizes();
    return !sizes.isEmpty() && (sizes.contains(rows) || rows >= sizes.get(sizes.size() - 1));
  }

  private PendingRequest head() {
    for (ArrayDeque<PendingRequest> q : levels) {
      if (!q.isEmpty()) {
        return q.peekFirst();
      }
    }
    return delayed.peekFirst();
  }

  private Iterator<PendingRequest> candidates() {
    List<ArrayDeque<PendingRequest>> order = new ArrayList<>(levels);
    order.add(delayed);
    return order.stream().flatMap(ArrayDeque::stream).iterator();
  }

  /** Removes and returns everything still queued (at shutdown). */
  List<PendingRequest> drain() {
    List<PendingRequest> all = new ArrayList<>();
    for (ArrayDeque<PendingRequest> q : levels) {
      all.addAll(q);
      q.clear();
    }
    all.addAll(delayed);
    delayed.clear();
    size = 0;
    return all;
  }
}
