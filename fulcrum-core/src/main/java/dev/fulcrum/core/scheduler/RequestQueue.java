package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.scheduler.PendingRequest.Place;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.PriorityQueue;
import org.jspecify.annotations.Nullable;

/**
 * The waiting requests of one model version, one FIFO per priority level plus one for requests
 * delayed by a timeout, a heap of their deadlines, and the dynamic batcher's decision of what to
 * run next. Pure logic: time is passed in, and it is not thread-safe — {@link ModelScheduler}
 * guards it with its lock.
 */
// size is volatile for lock-free reads; every update runs under the scheduler's lock.
@SuppressWarnings("NonAtomicVolatileUpdate")
final class RequestQueue {
  /**
   * A batch to run now (the caller owns the list), or none: wait {@code waitNanos} (or until
   * signalled when negative); or a request the policy dropped, which the caller answers before it
   * plans again.
   */
  record Plan(List<PendingRequest> batch, long waitNanos, @Nullable Dropped dropped) {
    static final Plan IDLE = new Plan(List.of(), -1);

    Plan(List<PendingRequest> batch, long waitNanos) {
      this(batch, waitNanos, null);
    }

    boolean ready() {
      return !batch.isEmpty();
    }
  }

  /** A request taken out of the queue because it cannot meet its latency objective. */
  record Dropped(PendingRequest request, String reason) {}

  /** Below this many stale entries the deadline heap is never compacted. */
  private static final int MIN_STALE_TO_COMPACT = 64;

  private final List<ArrayDeque<PendingRequest>> levels;
  private final ArrayDeque<PendingRequest> delayed = new ArrayDeque<>();

  /**
   * The requests with a deadline that were offered to a level FIFO, earliest deadline first. An
   * entry goes stale when its request leaves its level (dispatched, cancelled, timed out or
   * delayed); stale entries are dropped when they reach the top, and all at once when they
   * outnumber the live ones.
   */
  private final PriorityQueue<PendingRequest> deadlines =
      new PriorityQueue<>(
          (a, b) -> {
            int byDeadline = Long.compare(a.deadlineNanos - b.deadlineNanos, 0);
            return byDeadline != 0 ? byDeadline : Long.compare(a.seq, b.seq);
          });

  /** Requests in a level FIFO that have a deadline: the live entries of {@link #deadlines}. */
  private int liveDeadlines;

  private final SchedulingConfig config;
  private boolean dynamicBatching;
  private final int maxBatchSize;
  private final BatchingPolicy policy;

  /** Written under the scheduler's lock; volatile so that {@link #size()} may be read without. */
  private volatile int size;

  /** The batch rows in each level FIFO (not the delayed requests). */
  private final int[] levelRows;

  /**
   * Each level's queue policy (index 0: priority level 1): its own ({@code priority-queue-policy})
   * or the default; {@link #ownPolicy} says which.
   */
  private final SchedulingConfig.QueuePolicy[] policies;

  private final boolean[] ownPolicy;

  /** The queued requests of each level, its delayed ones included. */
  private final int[] levelCount;

  /** The queued requests of the levels with a policy of their own: not in the default's bound. */
  private int ownPolicyCount;

  /**
   * The queued requests when every bound a request may meet is full: the default's (where a level
   * has no policy of its own) plus each own policy's; 0 when one of them is unbounded.
   */
  private final int fullSize;

  /** A queue with Triton's dynamic batcher ({@link StaticBatchingPolicy}). */
  RequestQueue(SchedulingConfig config, boolean dynamicBatching, int maxBatchSize) {
    this(config, dynamicBatching, maxBatchSize, new StaticBatchingPolicy(config, maxBatchSize));
  }

  RequestQueue(
      SchedulingConfig config, boolean dynamicBatching, int maxBatchSize, BatchingPolicy policy) {
    this.config = config;
    this.dynamicBatching = dynamicBatching;
    this.maxBatchSize = Math.max(1, maxBatchSize);
    this.policy = policy;
    List<ArrayDeque<PendingRequest>> queues = new ArrayList<>();
    int n = config.levels() + (policy.bestEffortLast() ? 1 : 0);
    for (int i = 0; i < n; i++) {
      queues.add(new ArrayDeque<>());
    }
    this.levels = List.copyOf(queues);
    this.levelRows = new int[n];
    this.levelCount = new int[n];
    this.policies = new SchedulingConfig.QueuePolicy[n];
    this.ownPolicy = new boolean[n];
    long full = 0;
    boolean anyDefault = false;
    boolean unbounded = false;
    for (int i = 0; i < n; i++) {
      ownPolicy[i] = config.priorityQueuePolicies().containsKey(i + 1);
      policies[i] = config.queuePolicy(i + 1);
      if (ownPolicy[i]) {
        unbounded |= policies[i].maxQueueSize() <= 0;
        full += policies[i].maxQueueSize();
      } else {
        anyDefault = true;
      }
    }
    if (anyDefault) {
      unbounded |= config.maxQueueSize() <= 0;
      full += config.maxQueueSize();
    }
    this.fullSize = unbounded ? 0 : (int) Math.min(Integer.MAX_VALUE, full);
  }

  /**
   * The queued requests at which every bound a request may meet is full, whatever its level (its
   * level's own policy's, or the default's): the queue never holds more, so {@link #size()} at it
   * means each is full. 0 when one of them is unbounded.
   */
  int fullSize() {
    return fullSize;
  }

  /**
   * The queued requests that count against the bound a request at {@code level} meets: its level's
   * where it has a policy of its own, else those of every level without one (under the scheduler's
   * lock).
   */
  int countAgainstBound(int level) {
    return ownPolicy[level] ? levelCount[level] : size - ownPolicyCount;
  }

  /** The queue policy of the level at {@code level} (0: priority level 1). */
  SchedulingConfig.QueuePolicy policy(int level) {
    return policies[level];
  }

  /** Whether the level at {@code level} has a queue policy of its own (priority-queue-policy). */
  boolean ownPolicy(int level) {
    return ownPolicy[level];
  }

  /** Stops joining requests (the model turned out not to batch along dimension 0). */
  void stopJoining() {
    dynamicBatching = false;
  }

  /** The queued requests; exact under the scheduler's lock, possibly stale without it. */
  int size() {
    return size;
  }

  /**
   * The batch rows of the queued requests, the delayed ones included (under the scheduler's lock;
   * tests and simulations: admission reads {@link #rowsAhead}).
   */
  int rows() {
    int rows = rowsAhead(levelRows.length - 1);
    for (PendingRequest p : delayed) {
      rows += p.rows;
    }
    return rows;
  }

  /**
   * The batch rows a request at {@code level} waits behind: those queued at its level and at the
   * levels before it (under the scheduler's lock). Delayed requests (timed out, DELAY) come after
   * every level.
   */
  int rowsAhead(int level) {
    int rows = 0;
    for (int i = 0; i <= level && i < levelRows.length; i++) {
      rows += levelRows[i];
    }
    return rows;
  }

  /**
   * The index of the level best-effort requests wait in ({@link BatchingPolicy#bestEffortLast}).
   */
  int bestEffortLevel() {
    return levels.size() - 1;
  }

  /**
   * Admits a request unless its queue is full: its level's, where the level has a policy of its
   * own, else the default policy's, which bounds the levels without one together; atomic under the
   * caller's lock.
   */
  boolean offer(PendingRequest p) {
    if (ownPolicy[p.level]) {
      int max = policies[p.level].maxQueueSize();
      if (max > 0 && levelCount[p.level] >= max) {
        return false;
      }
      ownPolicyCount++;
    } else if (config.maxQueueSize() > 0 && size - ownPolicyCount >= config.maxQueueSize()) {
      return false;
    }
    levels.get(p.level).addLast(p);
    p.place = Place.LEVEL;
    size++;
    levelCount[p.level]++;
    levelRows[p.level] += p.rows;
    if (p.hasDeadline()) {
      deadlines.add(p);
      liveDeadlines++;
    }
    return true;
  }

  /** Removes a queued request (cancelled); false if it is not queued. */
  boolean remove(PendingRequest p) {
    switch (p.place) {
      case LEVEL -> {
        levels.get(p.level).remove(p);
        leaveLevel(p);
      }
      case DELAYED -> delayed.remove(p);
      case NONE -> {
        return false;
      }
    }
    p.place = Place.NONE;
    left(p);
    dropStaleDeadlines();
    return true;
  }

  /** Bookkeeping for a request that left its level FIFO: its deadline entry is now stale. */
  private void leaveLevel(PendingRequest p) {
    levelRows[p.level] -= p.rows;
    if (p.hasDeadline()) {
      liveDeadlines--;
    }
  }

  /**
   * The earliest deadline of a request that can still time out (one in a level FIFO), or {@link
   * Long#MAX_VALUE} when there is none.
   */
  long earliestDeadline() {
    dropStaleDeadlines();
    PendingRequest p = deadlines.peek();
    return p == null ? Long.MAX_VALUE : p.deadlineNanos;
  }

  /**
   * Applies the timeout action to every request whose deadline is at or before {@code now},
   * earliest deadline first: with REJECT it leaves the queue and is returned (the caller answers
   * it); with DELAY it moves behind every request on time and no longer times out. Each request
   * timed out costs O(log n) plus its removal from its FIFO (O(1) when it is the oldest there, as
   * with one default timeout); when none is overdue it returns an empty list at once.
   */
  List<PendingRequest> expire(long now) {
    List<PendingRequest> rejected = List.of();
    PendingRequest p;
    while ((p = deadlines.peek()) != null) {
      if (p.place != Place.LEVEL) {
        deadlines.poll();
        continue;
      }
      if (now - p.deadlineNanos < 0) {
        break;
      }
      deadlines.poll();
      leaveLevel(p);
      ArrayDeque<PendingRequest> level = levels.get(p.level);
      // Requests with one default timeout expire in arrival order, from the front of their FIFO.
      if (level.peekFirst() == p) {
        level.pollFirst();
      } else {
        level.remove(p);
      }
      if (policies[p.level].timeoutAction() == SchedulingConfig.TimeoutAction.DELAY) {
        p.place = Place.DELAYED;
        delayed.addLast(p);
      } else {
        p.place = Place.NONE;
        left(p);
        if (rejected.isEmpty()) {
          rejected = new ArrayList<>();
        }
        rejected.add(p);
      }
    }
    return rejected;
  }

  /**
   * Decides what runs next. The oldest request of the highest non-empty level leads; compatible
   * requests (same input types and non-batch dims) join it in priority then arrival order while the
   * batch fits {@code max-batch-size} and the bound the policy sets. When the batch leaves, or how
   * long to wait for more, is the {@link BatchingPolicy}'s decision (Triton's: at once when it is
   * full, reaches a preferred size, the queue delay is 0, or the leader has waited the queue
   * delay). Dispatched requests are removed from the queue, and so is a leader the policy drops.
   */
  Plan plan(long now) {
    PendingRequest head = head();
    if (head == null) {
      return Plan.IDLE;
    }
    // A request as large as a whole batch (or larger, for a model whose max-batch-size was filled
    // in from its graph) runs alone, and so does every request when joining is off.
    boolean alone = !dynamicBatching || head.rows >= maxBatchSize;
    BatchingPolicy.Decision decision =
        policy.decide(
            head, !alone, alone ? () -> head.rows : () -> gather(head, null, maxBatchSize), now);
    // instanceof, not a pattern switch over the sealed Decision: a pattern switch is an
    // invokedynamic (SwitchBootstraps.typeSwitch) whose class the AOT cache does not hold, spun on
    // the engine thread at a fresh JVM's first request (docs/PERFORMANCE.md, "Cold start",
    // session 20). The three cases are Decision's permitted ones.
    if (decision instanceof BatchingPolicy.Wait w) {
      return new Plan(List.of(), w.nanos());
    }
    if (decision instanceof BatchingPolicy.Shed shed) {
      take(head);
      dropStaleDeadlines();
      return new Plan(List.of(), 0, new Dropped(head, shed.reason()));
    }
    BatchingPolicy.Take t = (BatchingPolicy.Take) decision;
    if (alone) {
      take(head);
      dropStaleDeadlines();
      return new Plan(List.of(head), 0);
    }
    List<PendingRequest> batch = new ArrayList<>();
    gather(head, batch, Math.max(head.rows, Math.min(maxBatchSize, t.maxRows())));
    dropStaleDeadlines();
    return new Plan(batch, 0);
  }

  /**
   * Walks the candidates (every level in priority order, then the delayed requests, each oldest
   * first) and picks those that join {@code head}'s batch within {@code limit} rows; returns the
   * batch's rows. With a {@code batch} list it also takes the picked requests out of the queue and
   * adds them to it; without, it only counts, so that both walks pick the same requests.
   */
  private int gather(PendingRequest head, @Nullable List<PendingRequest> batch, int limit) {
    int rows = 0;
    int n = levels.size();
    for (int i = 0; i <= n && rows < limit; i++) {
      ArrayDeque<PendingRequest> q = i < n ? levels.get(i) : delayed;
      for (Iterator<PendingRequest> it = q.iterator(); it.hasNext() && rows < limit; ) {
        PendingRequest p = it.next();
        if (rows + p.rows <= limit && head.batchesWith(p)) {
          rows += p.rows;
          if (batch != null) {
            it.remove();
            taken(p);
            batch.add(p);
          }
        }
      }
    }
    return rows;
  }

  /** Takes out the first request of its FIFO. */
  private void take(PendingRequest p) {
    (p.place == Place.DELAYED ? delayed : levels.get(p.level)).pollFirst();
    taken(p);
  }

  private void taken(PendingRequest p) {
    if (p.place == Place.LEVEL) {
      leaveLevel(p);
    }
    p.place = Place.NONE;
    left(p);
  }

  /** Counts out a request that left the queue (dispatched, cancelled or timed out). */
  private void left(PendingRequest p) {
    size--;
    levelCount[p.level]--;
    if (ownPolicy[p.level]) {
      ownPolicyCount--;
    }
  }

  /**
   * Drops stale entries from the top of the deadline heap, where requests dispatched in deadline
   * order leave them, and rebuilds the heap when stale entries elsewhere outnumber the live ones,
   * so that it never holds on to many requests that have left.
   */
  private void dropStaleDeadlines() {
    PendingRequest p;
    while ((p = deadlines.peek()) != null && p.place != Place.LEVEL) {
      deadlines.poll();
    }
    int stale = deadlines.size() - liveDeadlines;
    if (stale > MIN_STALE_TO_COMPACT && stale > liveDeadlines) {
      deadlines.removeIf(e -> e.place != Place.LEVEL);
    }
  }

  private PendingRequest head() {
    for (ArrayDeque<PendingRequest> q : levels) {
      if (!q.isEmpty()) {
        return q.peekFirst();
      }
    }
    return delayed.peekFirst();
  }

  /** Entries in the deadline heap, stale ones included (for tests of its bound). */
  int deadlineEntries() {
    return deadlines.size();
  }

  /** Removes and returns everything still queued (at shutdown). */
  List<PendingRequest> drain() {
    List<PendingRequest> all = new ArrayList<>(size);
    for (ArrayDeque<PendingRequest> q : levels) {
      all.addAll(q);
      q.clear();
    }
    all.addAll(delayed);
    delayed.clear();
    for (PendingRequest p : all) {
      p.place = Place.NONE;
    }
    deadlines.clear();
    liveDeadlines = 0;
    size = 0;
    Arrays.fill(levelRows, 0);
    Arrays.fill(levelCount, 0);
    ownPolicyCount = 0;
    return all;
  }
}
