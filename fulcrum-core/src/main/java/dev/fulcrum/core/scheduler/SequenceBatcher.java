package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.SequenceBatchingConfig;
import dev.fulcrum.core.config.SequenceBatchingConfig.ControlInput;
import dev.fulcrum.core.config.SequenceBatchingConfig.State;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.inference.RequestValidator;
import dev.fulcrum.core.inference.SequenceId;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Triton's sequence batcher, direct or oldest strategy, in front of a stateful model version's
 * {@link ModelScheduler}: a sequence opened by a request with {@code sequence_start} holds one of
 * the version's slots (per instance: {@code max-batch-size}, one for a model that does not batch,
 * with the direct strategy; {@code max-candidate-sequences} with the oldest) until a request with
 * {@code sequence_end} has run or it has had no request for {@code max-sequence-idle-microseconds};
 * a sequence that finds every slot held waits for one (its requests count against {@code
 * max-queue-size}, or their priority level's own {@code priority-queue-policy} bound, as in the
 * scheduler's queue: beyond it they are refused at once, never queued forever). Each sequence sends
 * one request at a time to the scheduler, in the order they arrived, with the control inputs the
 * model declares filled (START, END, READY, CORRID) and its implicit state (zeros at the start,
 * then what the previous request's state output made); the scheduler's dynamic batcher joins the
 * requests of different sequences that are ready at once into one pass, one row each. The state
 * outputs are kept here and left out of the answer.
 *
 * <p>Concurrency: any thread may {@link #submit}; one lock guards the sequences, the slots and the
 * waiting requests, held only to admit a request, pick a sequence's next one or free a slot;
 * requests go to the scheduler outside it, and each answer (on the thread that completes it) takes
 * it again to keep the state and send the sequence's next request. One task on the injected timer
 * frees idle sequences; a second, armed for the earliest deadline, expires requests waiting here
 * past their queue timeout; a cancellation takes the lock from the cancelling thread.
 */
public final class SequenceBatcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SequenceBatcher.class);
  private final ModelConfig config;
  private final SequenceBatchingConfig sequencing;
  private final ModelScheduler scheduler;
  private final Ticker ticker;
  private final int slots;
  private final int maxWaiting;
  private final long idleNanos;
  private final ReentrantLock lock = new ReentrantLock();

  /** Sequences that hold a slot, by id (guarded by {@link #lock}). */
  private final Map<SequenceId, Sequence> holding = new HashMap<>();

  /** Sequences waiting for a slot, by id, and in the order they came (guarded). */
  private final Map<SequenceId, Sequence> waitingForSlot = new HashMap<>();

  private final ArrayDeque<Sequence> backlog = new ArrayDeque<>();

  /** The slots held (guarded). */
  private final BitSet held = new BitSet();

  /** Requests held here, not yet sent to the scheduler (guarded). */
  private int waiting;

  /** Of {@link #waiting}, those at each priority level (index: the scheduler's; guarded). */
  private final int[] waitingAt;

  /**
   * Of {@link #waiting}, those at levels with a queue policy of their own, which the default's
   * bound does not count (guarded).
   */
  private int waitingOwn;

  /** How long the sequences that ended held their slot: the hint for one waiting for a slot. */
  private final SlotTurnover turnover = new SlotTurnover();

  /** Sequences whose slot the idle limit freed, since the version loaded (guarded). */
  private long idleEnded;

  private boolean closed;
  private final ScheduledFuture<?> reaper;
  private final ScheduledExecutorService timer;

  /** The armed expiry task and the deadline it is for, or null (guarded). */
  private @Nullable ScheduledFuture<?> expiry;

  private long expiryDeadline;

  /**
   * Sends a thread has to make: an answer that comes inline queues its successor here. Each entry
   * is bound to its own batcher's scheduler, so a version's send never goes to another's.
   */
  private static final ThreadLocal<ArrayDeque<Runnable>> SENDING = new ThreadLocal<>();

  /**
   * @param timer runs the idle check: one task, every tenth of the idle limit (at most 100 ms)
   */
  public SequenceBatcher(
      ModelConfig config, ModelScheduler scheduler, Ticker ticker, ScheduledExecutorService timer) {
    this.config = config;
    this.sequencing = java.util.Objects.requireNonNull(config.sequenceBatching(), "sequencing");
    this.scheduler = scheduler;
    this.ticker = ticker;
    this.timer = timer;
    this.slots =
        Math.multiplyExact(
            scheduler.instanceCount(), sequencing.slotsPerInstance(config.maxBatchSize()));
    int q = config.scheduling().maxQueueSize();
    this.maxWaiting = q > 0 ? q : Integer.MAX_VALUE;
    this.waitingAt = new int[scheduler.queueLevels()];
    this.idleNanos = TimeUnit.MICROSECONDS.toNanos(sequencing.maxSequenceIdleMicros());
    long period = Math.max(1_000_000, Math.min(idleNanos / 10, 100_000_000));
    this.reaper =
        timer.scheduleWithFixedDelay(this::freeIdleLogged, period, period, TimeUnit.NANOSECONDS);
  }

  /** One sequence: its slot, its requests not yet sent, its state (guarded by the lock). */
  private static final class Sequence {
    final SequenceId id;
    int slot = -1;
    final ArrayDeque<Held> pending = new ArrayDeque<>();
    boolean running;
    long lastNanos;

    /** When it took its slot. */
    long seatedNanos;

    /**
     * One of its requests timed out or was cancelled before it ran: the sequence ends once the
     * requests still in {@link #pending} (those that came before that one) have run. New requests
     * for its id do not join it.
     */
    boolean closing;

    /** Per state: the tensor its input gets next; null for zeros (a start). */
    final @Nullable Tensor[] state;

    Sequence(SequenceId id, int states) {
      this.id = id;
      this.state = new Tensor[states];
    }
  }

  /**
   * A request admitted here, with the future its caller holds, when it came, the queue rule of its
   * priority level, until when it may wait (its level's queue timeout, REJECT; {@link
   * Long#MAX_VALUE}: no limit), where its statistics events go (its caller's counter, or null: the
   * scheduler's observer), and once sent the scheduler's future (to pass a cancellation on). The
   * two mutable fields are guarded by the lock.
   */
  private static final class Held {
    final InferenceRequest request;
    final RequestValidator.Validated validated;
    final @Nullable Executor answerOn;
    final @Nullable SchedulerObserver counter;
    final CompletableFuture<InferenceResponse> result = new CompletableFuture<>();
    final long arrivalNanos;
    final ModelScheduler.QueueRule rule;
    final long deadline;
    @Nullable Sequence sequence;
    @Nullable CompletableFuture<InferenceResponse> sent;

    Held(
        InferenceRequest request,
        RequestValidator.Validated validated,
        @Nullable Executor answerOn,
        @Nullable SchedulerObserver counter,
        long arrivalNanos,
        ModelScheduler.QueueRule rule,
        long deadline) {
      this.request = request;
      this.validated = validated;
      this.answerOn = answerOn;
      this.counter = counter;
      this.arrivalNanos = arrivalNanos;
      this.rule = rule;
      this.deadline = deadline;
    }

    RequestOptions.Sequence flags() {
      return request.options().sequence();
    }

    InferenceRequest request() {
      return request;
    }

    RequestValidator.Validated validated() {
      return validated;
    }

    @Nullable Executor answerOn() {
      return answerOn;
    }

    CompletableFuture<InferenceResponse> result() {
      return result;
    }
  }

  /** A request on its way to the scheduler: its inputs with the controls and state filled. */
  private record Send(Sequence sequence, Held held, RequestValidator.Validated filled) {}

  /** Why a request of a sequence did not run, which ends its sequence. */
  private enum Drop {
    TIMED_OUT,
    CANCELLED;

    SchedulerObserver.Outcome outcome() {
      return this == TIMED_OUT
          ? SchedulerObserver.Outcome.TIMED_OUT
          : SchedulerObserver.Outcome.CANCELLED;
    }
  }

  /** Requests of sequences that ended, to answer once the lock is let go. */
  private record Ended(Held held, Drop why) {}

  /** Slots of this version: sequences that may be open at once. */
  public int slots() {
    return slots;
  }

  /** Requests held here now: waiting for their sequence's turn or for a slot. */
  public int waiting() {
    lock.lock();
    try {
      return waiting;
    } finally {
      lock.unlock();
    }
  }

  /** Sequences that hold a slot now. */
  public int activeSequences() {
    lock.lock();
    try {
      return holding.size();
    } finally {
      lock.unlock();
    }
  }

  /** Sequences waiting for a slot now (Triton's backlog). */
  public int backlogSequences() {
    lock.lock();
    try {
      return backlog.size();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Sequences ended by {@code max-sequence-idle-microseconds} since the version loaded: their slot
   * and state freed because no request came for them that long.
   */
  public long idleEnded() {
    lock.lock();
    try {
      return idleEnded;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Admits a validated request of a sequence; its answer completes the returned future. Throws
   * INVALID_ARGUMENT for a request without a sequence id, of more than one row, or not a start for
   * a sequence that is not open (Triton's messages), or with a {@code priority} outside the model's
   * levels; RESOURCE_EXHAUSTED when it would wait (for its sequence's turn or a slot) and the bound
   * of its priority level is full here (its level's own {@code priority-queue-policy} {@code
   * max-queue-size}, else the default's, counting the requests waiting here that it counts);
   * UNAVAILABLE once closed. A request that waits here past its queue timeout (the scheduler's
   * rule, its priority level's queue policy: {@code default-timeout-microseconds}, or its {@code
   * timeout} where allowed; action REJECT) is answered DEADLINE_EXCEEDED and never runs; cancelling
   * the returned future (its client left) takes a request that has not been sent out, and passes
   * the cancellation on to the scheduler for one that has. Either way the request does not run and
   * its sequence ends there, as Triton ends a sequence whose request timed out or was cancelled:
   * the requests of it that came before still run, those after are answered (UNAVAILABLE after a
   * timeout, DEADLINE_EXCEEDED for one whose own queue timeout has passed too, CANCELLED after a
   * cancellation) without running, its slot and state are freed, and its id's next request must be
   * a start.
   */
  public CompletableFuture<InferenceResponse> submit(
      InferenceRequest request, RequestValidator.Validated v, @Nullable Executor answerOn) {
    return submit(request, v, answerOn, null);
  }

  /**
   * As {@link #submit(InferenceRequest, RequestValidator.Validated, Executor)}; the request's own
   * statistics events (how it ended, or its refusal, here or in the scheduler) go to {@code
   * counter} instead of the scheduler's observer when it is not null: its caller counts the request
   * once it has answered it (a transport's output delivery, {@link
   * ModelScheduler#submit(InferenceRequest, RequestValidator.Validated, Executor,
   * SchedulerObserver)}).
   */
  public CompletableFuture<InferenceResponse> submit(
      InferenceRequest request,
      RequestValidator.Validated v,
      @Nullable Executor answerOn,
      @Nullable SchedulerObserver counter) {
    RequestOptions.Sequence flags = request.options().sequence();
    SequenceId id = flags.id();
    if (id == null) {
      throw invalid(
          counter,
          InferenceException.invalid(
              "inference request to model '%s' must specify a non-zero or non-empty correlation ID"
                  + " (parameter '%s')",
              config.name(), RequestOptions.SEQUENCE_ID));
    }
    if (config.batching() && v.batchSize() != 1) {
      throw invalid(
          counter,
          InferenceException.invalid(
              "model '%s': a request of a sequence has one row (batch size 1), was %d",
              config.name(), v.batchSize()));
    }
    for (ControlInput c : sequencing.controlInputs()) {
      if (c.kind() == SequenceBatchingConfig.Kind.CORRID
          && (c.datatype() == DataType.BYTES) != id.isText()) {
        throw invalid(
            counter,
            InferenceException.invalid(
                "model '%s' takes %s sequence ids (its control input '%s' is %s), was %s",
                config.name(),
                c.datatype() == DataType.BYTES ? "string" : "integer",
                c.name(),
                c.datatype(),
                id.isText() ? "the string '" + id + "'" : "the integer " + id));
      }
    }
    long arrived = ticker.nanoTime();
    ModelScheduler.QueueRule rule;
    long deadline;
    try {
      rule = scheduler.queueRule(request.options());
      deadline = scheduler.rejectDeadline(request.options(), arrived);
    } catch (InferenceException e) {
      throw invalid(counter, e); // a priority outside the model's levels
    }
    Held h = new Held(request, v, answerOn, counter, arrived, rule, deadline);
    Send next;
    lock.lock();
    try {
      if (closed) {
        throw InferenceException.unavailable("model '%s' is unloading", config.name());
      }
      Sequence s = open(holding.get(id));
      if (s == null) {
        s = open(waitingForSlot.get(id));
      }
      if (s == null && !flags.start()) {
        throw invalid(counter, notStarted(id));
      }
      boolean runsNow =
          s == null
              ? held.nextClearBit(0) < slots && !holding.containsKey(id)
              : s.slot >= 0 && !s.running && s.pending.isEmpty();
      if (!runsNow && full(rule)) {
        scheduler.countRejected(1, request.options(), counter);
        throw InferenceException.exhausted(overloaded(rule), retryHint(s));
      }
      if (s == null) {
        s = new Sequence(id, sequencing.states().size());
        int slot = held.nextClearBit(0);
        if (slot < slots && !holding.containsKey(id)) {
          s.slot = slot;
          s.seatedNanos = arrived;
          held.set(slot);
          holding.put(id, s);
        } else {
          waitingForSlot.put(id, s);
          backlog.add(s);
        }
      }
      s.pending.add(h);
      h.sequence = s;
      waiting++;
      waitingAt[rule.level()]++;
      if (rule.own()) {
        waitingOwn++;
      }
      s.lastNanos = arrived;
      next = take(s);
      if (next == null
          && h.deadline != Long.MAX_VALUE
          && (expiry == null || h.deadline - expiryDeadline < 0)) {
        armExpiry(h.deadline, arrived);
      }
    } finally {
      lock.unlock();
    }
    h.result.whenComplete(
        (r, t) -> {
          if (t instanceof CancellationException) {
            cancelled(h);
          }
        });
    if (next != null) {
      send(next);
    }
    return h.result;
  }

  /**
   * Whether the bound a request of {@code rule}'s level meets is full: its level's own ({@code
   * priority-queue-policy}), counting the requests of that level waiting here, else the default
   * {@code max-queue-size}, counting those of the levels without a policy of their own, as the
   * scheduler's queue bounds them. Under the lock.
   */
  private boolean full(ModelScheduler.QueueRule rule) {
    if (rule.own()) {
      int max = rule.policy().maxQueueSize();
      return max > 0 && waitingAt[rule.level()] >= max;
    }
    return waiting - waitingOwn >= maxWaiting;
  }

  /** The message of a refusal for a full bound ({@link #full}). Under the lock. */
  private String overloaded(ModelScheduler.QueueRule rule) {
    String count =
        rule.own()
            ? waitingAt[rule.level()]
                + " requests of its sequences at priority level "
                + (rule.level() + 1)
                + " wait (priority-queue-policy max-queue-size "
                + rule.policy().maxQueueSize()
            : (waiting - waitingOwn)
                + " requests of its sequences wait (max-queue-size "
                + maxWaiting;
    return "model '"
        + config.name()
        + "' is overloaded: "
        + count
        + ", "
        + slots
        + " sequence slots); retry later";
  }

  /** Counts out a request that no longer waits here (sent, dropped, ended). Under the lock. */
  private void unwait(Held h) {
    waiting--;
    waitingAt[h.rule.level()]--;
    if (h.rule.own()) {
      waitingOwn--;
    }
  }

  /**
   * The retry hint of a refusal for a full batcher. For a request of a sequence that holds a slot:
   * when its turn would have come (its sequence's requests run one per round, each round a row of
   * every open sequence: {@link ModelScheduler#untilServedInRounds}). For a new sequence, or one
   * waiting for a slot: when a slot would have come to it, from how long the sequences that ended
   * held theirs ({@link SlotTurnover}: its place among the sequences waiting for one, times the
   * mean lifetime, over the slots), once {@link SlotTurnover#MIN_ENDED} sequences have ended; none
   * before. Under the lock.
   */
  private java.time.@Nullable Duration retryHint(@Nullable Sequence s) {
    if (s == null || s.slot < 0) {
      int position = backlog.size() + 1;
      if (s != null) {
        position = 1;
        for (Sequence w : backlog) {
          if (w == s) {
            break;
          }
          position++;
        }
      }
      return turnover.untilSlot(position, slots);
    }
    int rounds = s.pending.size() + (s.running ? 1 : 0) + 1;
    return scheduler.untilServedInRounds(rounds, holding.size());
  }

  /** The sequence unless it is null or closing (its id's new requests do not join it). */
  private static @Nullable Sequence open(@Nullable Sequence s) {
    return s == null || s.closing ? null : s;
  }

  /**
   * A cancelled request: if it still waits here it is taken out and its sequence ends there ({@link
   * #drop}); else the cancellation goes to the scheduler's future, which drops it if it has not
   * started (and {@link #answered} ends the sequence).
   */
  private void cancelled(Held h) {
    boolean removed;
    @Nullable CompletableFuture<InferenceResponse> sent;
    List<Ended> ended = new ArrayList<>();
    List<Send> next = new ArrayList<>();
    lock.lock();
    try {
      removed = drop(h, Drop.CANCELLED, ended, next);
      sent = h.sent;
    } finally {
      lock.unlock();
    }
    if (removed) {
      scheduler.countNotRun(
          SchedulerObserver.Outcome.CANCELLED, 1, h.arrivalNanos, h.request.options(), h.counter);
    } else if (sent != null) {
      sent.cancel(false);
    }
    finish(ended, next);
  }

  /**
   * Takes a request that waits here out of its sequence, which ends there: the requests after it go
   * to {@code ended}, those before it still run, and then the sequence frees its slot (at once when
   * none is left to run). Under the lock; false when it was no longer waiting.
   */
  private boolean drop(Held h, Drop why, List<Ended> ended, List<Send> next) {
    Sequence s = h.sequence;
    if (s == null || !s.pending.contains(h)) {
      return false;
    }
    boolean after = false;
    for (Iterator<Held> it = s.pending.iterator(); it.hasNext(); ) {
      Held w = it.next();
      if (w == h) {
        after = true;
        it.remove();
        unwait(w);
      } else if (after) {
        it.remove();
        unwait(w);
        ended.add(new Ended(w, why));
      }
    }
    close(s, next);
    return true;
  }

  /**
   * Marks a sequence closing, and ends it now if it has nothing left to run: its slot goes to the
   * backlog, or it leaves the backlog. Under the lock.
   */
  private void close(Sequence s, List<Send> next) {
    s.closing = true;
    waitingForSlot.remove(s.id, s); // only open sequences are found by id
    if (!s.pending.isEmpty() || s.running) {
      return;
    }
    if (s.slot >= 0) {
      free(s, next);
    } else {
      backlog.remove(s);
    }
  }

  /**
   * Answers, once the lock is let go, the requests of sequences that ended before they ran, and
   * sends what the freed slots let run. One ended by a timeout whose own queue timeout has passed
   * too is answered as timed out itself (504 / DEADLINE_EXCEEDED, as the queue answers it), the
   * others as ended ({@link #endedBy}).
   */
  private void finish(List<Ended> ended, List<Send> next) {
    long now = ended.isEmpty() ? 0 : ticker.nanoTime();
    for (Ended e : ended) {
      Held w = e.held();
      scheduler.countNotRun(e.why().outcome(), 1, w.arrivalNanos, w.request.options(), w.counter);
      w.result.completeExceptionally(
          e.why() == Drop.TIMED_OUT && w.deadline - now <= 0
              ? scheduler.timedOut(now - w.arrivalNanos)
              : endedBy(w, e.why()));
    }
    for (Send n : next) {
      send(n);
    }
  }

  /** The answer to a request whose sequence ended at an earlier request that did not run. */
  private InferenceException endedBy(Held w, Drop why) {
    SequenceId id = java.util.Objects.requireNonNull(w.flags().id());
    String because =
        why == Drop.TIMED_OUT
            ? "an earlier request of it timed out before it ran (Triton: timeout of the"
                + " corresponding sequence has been expired)"
            : "an earlier request of it was cancelled";
    String message =
        "sequence "
            + id
            + " of model '"
            + config.name()
            + "' ended: "
            + because
            + "; this request did not run. Start the sequence again (parameter '"
            + RequestOptions.SEQUENCE_START
            + "')";
    return why == Drop.TIMED_OUT
        ? new InferenceException(ErrorCode.UNAVAILABLE, message)
        : new InferenceException(ErrorCode.CANCELLED, message);
  }

  /**
   * Arms the expiry task for {@code deadline}, replacing a later one; under the lock. A timer shut
   * down (the server stops) arms nothing.
   */
  private void armExpiry(long deadline, long now) {
    ScheduledFuture<?> task;
    try {
      task = timer.schedule(this::expireOverdue, Math.max(0, deadline - now), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      return;
    }
    if (expiry != null) {
      expiry.cancel(false);
    }
    expiry = task;
    expiryDeadline = deadline;
  }

  /**
   * Answers every request waiting here past its deadline with DEADLINE_EXCEEDED (as the scheduler
   * answers one that timed out in its queue), then arms itself for the next deadline. The timer's
   * task; tests call it after moving the ticker.
   */
  void expireOverdue() {
    List<Held> overdue = new ArrayList<>();
    List<Ended> ended = new ArrayList<>();
    List<Send> sends = new ArrayList<>();
    long now;
    lock.lock();
    try {
      now = ticker.nanoTime();
      long next = Long.MAX_VALUE;
      List<Sequence> all = new ArrayList<>(holding.values());
      all.addAll(backlog);
      for (Sequence s : all) {
        // its first overdue request ends it; those after it go with it
        for (Held h : s.pending) {
          if (h.deadline - now <= 0) {
            overdue.add(h);
            break;
          }
        }
      }
      for (Held h : overdue) {
        drop(h, Drop.TIMED_OUT, ended, sends);
      }
      for (Sequence s : holding.values()) {
        for (Held h : s.pending) {
          if (h.deadline != Long.MAX_VALUE && h.deadline - next < 0) {
            next = h.deadline;
          }
        }
      }
      for (Sequence s : backlog) {
        for (Held h : s.pending) {
          if (h.deadline != Long.MAX_VALUE && h.deadline - next < 0) {
            next = h.deadline;
          }
        }
      }
      expiry = null;
      if (next != Long.MAX_VALUE && !closed) {
        armExpiry(next, now);
      }
    } finally {
      lock.unlock();
    }
    for (Held h : overdue) {
      scheduler.countNotRun(
          SchedulerObserver.Outcome.TIMED_OUT, 1, h.arrivalNanos, h.request.options(), h.counter);
      h.result.completeExceptionally(scheduler.timedOut(now - h.arrivalNanos));
    }
    finish(ended, sends); // those overdue themselves too are answered as timed out there
  }

  private InferenceException notStarted(SequenceId id) {
    return InferenceException.invalid(
        "inference request for sequence %s to model '%s' must specify the START flag on the first"
            + " request of the sequence (parameter '%s')",
        id, config.name(), RequestOptions.SEQUENCE_START);
  }

  /** Counts a refused request as the scheduler counts an invalid one, and returns the error. */
  private InferenceException invalid(@Nullable SchedulerObserver counter, InferenceException e) {
    scheduler.countInvalid(1, counter);
    return e;
  }

  /**
   * The sequence's next request with its controls and state filled, marking the sequence running;
   * null when it holds no slot, runs one already or has none waiting. Under the lock.
   */
  private @Nullable Send take(Sequence s) {
    if (s.slot < 0 || s.running || s.pending.isEmpty()) {
      return null;
    }
    Held h = s.pending.poll();
    unwait(h);
    s.running = true;
    RequestOptions.Sequence flags = h.flags();
    if (flags.start()) {
      java.util.Arrays.fill(s.state, null);
    }
    RequestValidator.Validated v = h.validated();
    List<Tensor> inputs = new ArrayList<>(v.inputs());
    for (ControlInput c : sequencing.controlInputs()) {
      inputs.add(control(c, s.id, flags));
    }
    List<State> states = sequencing.states();
    List<String> outputs = new ArrayList<>(v.outputNames());
    for (int i = 0; i < states.size(); i++) {
      State st = states.get(i);
      Tensor t = s.state[i];
      inputs.add(t != null ? t : zeros(st));
      if (!outputs.contains(st.outputName())) {
        outputs.add(st.outputName());
      }
    }
    return new Send(s, h, new RequestValidator.Validated(inputs, outputs, v.batchSize()));
  }

  /** A control input's one element for a request (in a row of its own when the model batches). */
  private Tensor control(ControlInput c, SequenceId id, RequestOptions.Sequence flags) {
    long[] shape = config.batching() ? new long[] {1, 1} : new long[] {1};
    long value =
        switch (c.kind()) {
          case START -> flags.start() ? 1 : 0;
          case END -> flags.end() ? 1 : 0;
          case READY -> 1;
          case CORRID -> id.number();
        };
    if (c.datatype() == DataType.BYTES) {
      return Tensor.ofBytes(c.name(), shape, List.of(id.text().getBytes(StandardCharsets.UTF_8)));
    }
    ByteBuffer b = ByteBuffer.allocate(c.datatype().byteSize()).order(ByteOrder.LITTLE_ENDIAN);
    switch (c.datatype()) {
      case BOOL -> b.put((byte) (value != 0 ? 1 : 0));
      case FP32 -> b.putFloat((float) value);
      case INT32, UINT32 -> b.putInt((int) value);
      default -> b.putLong(value);
    }
    b.flip();
    return Tensor.of(c.name(), c.datatype(), shape, b);
  }

  /** A new sequence's state: zeros. */
  private Tensor zeros(State st) {
    long[] shape = config.batching() ? Shapes.prepend(1, st.shape()) : st.shape();
    long bytes = Shapes.elementCount(shape) * st.datatype().byteSize();
    return Tensor.of(
        st.inputName(),
        st.datatype(),
        shape,
        ByteBuffer.allocate(Math.toIntExact(bytes)).order(ByteOrder.LITTLE_ENDIAN));
  }

  /**
   * Sends a request to the scheduler. A pass that answers inline (on this thread) sends the
   * sequence's next request from here too: queued, not nested, so a long run of waiting requests
   * never deepens the stack.
   */
  private void send(Send first) {
    Runnable job = () -> sendNow(first);
    @Nullable ArrayDeque<Runnable> sending = SENDING.get();
    if (sending != null) {
      sending.add(job);
      return;
    }
    ArrayDeque<Runnable> queue = new ArrayDeque<>();
    SENDING.set(queue);
    try {
      queue.add(job);
      Runnable x;
      while ((x = queue.poll()) != null) {
        x.run();
      }
    } finally {
      SENDING.remove();
    }
  }

  private void sendNow(Send sent) {
    Held h = sent.held();
    CompletableFuture<InferenceResponse> ran;
    try {
      ran = scheduler.submit(h.request(), sent.filled(), h.answerOn(), h.counter);
    } catch (RuntimeException e) {
      ran = CompletableFuture.failedFuture(e);
    }
    lock.lock();
    try {
      h.sent = ran;
    } finally {
      lock.unlock();
    }
    if (h.result.isCancelled()) {
      ran.cancel(false); // cancelled between its turn and here: the scheduler drops it if queued
    }
    ran.whenComplete((r, t) -> answered(sent, r, t));
  }

  /**
   * Keeps the state a request made, answers it, and sends what may run next. A request the
   * scheduler dropped before it ran (its queue timeout, or cancelled) ends its sequence, as one
   * dropped here does.
   */
  private void answered(Send x, @Nullable InferenceResponse r, @Nullable Throwable t) {
    Sequence s = x.sequence();
    Held h = x.held();
    List<Send> next = new ArrayList<>(2);
    List<Held> refused = new ArrayList<>();
    List<Ended> ended = new ArrayList<>();
    InferenceResponse answer = null;
    Throwable failure = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    Drop notRun = r != null ? null : notRun(failure);
    lock.lock();
    try {
      s.running = false;
      s.lastNanos = ticker.nanoTime();
      if (r != null) {
        answer = keepState(s, h, r);
      }
      if (notRun != null) {
        for (Held w : s.pending) {
          ended.add(new Ended(w, notRun));
          unwait(w);
        }
        s.pending.clear();
        s.closing = true;
      }
      if (h.flags().end() || (s.closing && s.pending.isEmpty())) {
        // The sequence ended: its slot goes to the next sequence waiting. Requests that arrived
        // for its id meanwhile start it anew, or are refused as Triton refuses them.
        free(s, next);
        while (!s.pending.isEmpty() && !s.pending.peek().flags().start()) {
          Held lost = s.pending.poll();
          refused.add(lost);
          unwait(lost);
        }
        if (!s.pending.isEmpty()) {
          Sequence again = new Sequence(s.id, s.state.length);
          again.pending.addAll(s.pending);
          again.pending.forEach(w -> w.sequence = again);
          again.lastNanos = s.lastNanos;
          s.pending.clear();
          claim(again, next);
        }
      } else {
        Send mine = take(s);
        if (mine != null) {
          next.add(mine);
        }
      }
    } finally {
      lock.unlock();
    }
    for (Held lost : refused) {
      lost.result().completeExceptionally(notStarted(s.id));
    }
    if (answer != null) {
      h.result().complete(answer);
    } else {
      h.result().completeExceptionally(java.util.Objects.requireNonNull(failure));
    }
    finish(ended, next);
  }

  /** Why the scheduler did not run a request: timed out or cancelled; null for another failure. */
  private static @Nullable Drop notRun(@Nullable Throwable failure) {
    if (failure instanceof CancellationException) {
      return Drop.CANCELLED;
    }
    if (failure instanceof InferenceException e) {
      return switch (e.code()) {
        case DEADLINE_EXCEEDED -> Drop.TIMED_OUT;
        case CANCELLED -> Drop.CANCELLED;
        default -> null;
      };
    }
    return null;
  }

  /**
   * Takes the state outputs of an answer into the sequence, and the answer without those the client
   * did not ask for. Under the lock.
   */
  private InferenceResponse keepState(Sequence s, Held h, InferenceResponse r) {
    List<State> states = sequencing.states();
    if (states.isEmpty()) {
      return r;
    }
    List<String> asked = h.validated().outputNames();
    List<Tensor> shown = new ArrayList<>(r.outputs().size());
    for (Tensor out : r.outputs()) {
      for (int i = 0; i < states.size(); i++) {
        if (states.get(i).outputName().equals(out.name())) {
          s.state[i] = out.renamed(states.get(i).inputName());
        }
      }
      if (asked.contains(out.name())) {
        shown.add(out);
      }
    }
    return new InferenceResponse(
        r.modelName(), r.modelVersion(), r.id(), r.parameters(), shown, r.timing());
  }

  /**
   * Frees a sequence's slot and gives the free slots to the sequences waiting, in the order they
   * came, passing over one whose id a closing sequence still holds (a client's restart of a
   * sequence that is ending): it keeps its place, and is served once that sequence ends (its id
   * leaves {@link #holding} here, before the walk). Were the slot given to the backlog's head
   * alone, a head blocked so would leave it free while the sequences behind it waited. Under the
   * lock.
   */
  private void free(Sequence s, List<Send> next) {
    if (holding.remove(s.id, s)) {
      held.clear(s.slot);
      s.slot = -1;
      turnover.ended(ticker.nanoTime() - s.seatedNanos);
    }
    for (Iterator<Sequence> it = backlog.iterator();
        it.hasNext() && held.nextClearBit(0) < slots; ) {
      Sequence w = it.next();
      if (holding.containsKey(w.id)) {
        continue; // its id's closing sequence still runs: it waits in its place
      }
      it.remove();
      waitingForSlot.remove(w.id, w);
      seat(w, next);
    }
  }

  /** Gives a sequence a free slot (or puts it in the backlog) and takes its next request. */
  private void claim(Sequence s, List<Send> next) {
    if (held.nextClearBit(0) < slots && !holding.containsKey(s.id)) {
      seat(s, next);
    } else {
      if (!s.closing) {
        waitingForSlot.put(s.id, s);
      }
      backlog.add(s);
    }
  }

  /**
   * Seats a sequence in the first free slot (there is one, and its id holds none) and takes its
   * next request. Under the lock.
   */
  private void seat(Sequence s, List<Send> next) {
    int slot = held.nextClearBit(0);
    s.slot = slot;
    s.seatedNanos = ticker.nanoTime();
    held.set(slot);
    holding.put(s.id, s);
    Send mine = take(s);
    if (mine != null) {
      next.add(mine);
    }
  }

  /**
   * The timer's task, {@link #freeIdle}: a throw would end a fixed-delay task for good (the
   * executor drops it silently) and no idle slot would be freed again; logged, tried again next
   * period.
   */
  private void freeIdleLogged() {
    try {
      freeIdle();
    } catch (RuntimeException e) {
      log.error(
          "model '{}': freeing idle sequences failed; tried again next period", config.name(), e);
    }
  }

  /**
   * Frees the slots of sequences idle longer than the limit. The timer's task; tests call it after
   * moving the ticker.
   */
  void freeIdle() {
    List<Send> next = new ArrayList<>();
    lock.lock();
    try {
      long now = ticker.nanoTime();
      List<Sequence> idle = new ArrayList<>();
      for (Iterator<Sequence> it = holding.values().iterator(); it.hasNext(); ) {
        Sequence s = it.next();
        if (!s.running && s.pending.isEmpty() && now - s.lastNanos > idleNanos) {
          idle.add(s);
        }
      }
      for (Sequence s : idle) {
        free(s, next);
      }
      idleEnded += idle.size();
    } finally {
      lock.unlock();
    }
    for (Send n : next) {
      send(n);
    }
  }

  /**
   * Stops the idle check and refuses the requests still waiting here (UNAVAILABLE); those sent to
   * the scheduler finish there.
   */
  @Override
  public void close() {
    reaper.cancel(false);
    List<Held> left = new ArrayList<>();
    lock.lock();
    try {
      closed = true;
      if (expiry != null) {
        expiry.cancel(false);
        expiry = null;
      }
      for (Sequence s : holding.values()) {
        left.addAll(s.pending);
        s.pending.clear();
      }
      for (Sequence s : backlog) {
        left.addAll(s.pending);
        s.pending.clear();
      }
      waiting = 0;
      waitingOwn = 0;
      java.util.Arrays.fill(waitingAt, 0);
    } finally {
      lock.unlock();
    }
    for (Held h : left) {
      h.result()
          .completeExceptionally(
              InferenceException.unavailable("model '%s' is unloading", config.name()));
    }
  }
}
