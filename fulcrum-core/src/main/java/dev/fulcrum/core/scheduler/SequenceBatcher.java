package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.SequenceBatchingConfig;
import dev.fulcrum.core.config.SequenceBatchingConfig.ControlInput;
import dev.fulcrum.core.config.SequenceBatchingConfig.State;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * Triton's sequence batcher, direct strategy, in front of a stateful model version's {@link
 * ModelScheduler}: a sequence opened by a request with {@code sequence_start} holds one of the
 * version's slots ({@code max-batch-size} per instance, one for a model that does not batch) until
 * a request with {@code sequence_end} has run or it has had no request for {@code
 * max-sequence-idle-microseconds}; a sequence that finds every slot held waits for one (its
 * requests count against {@code max-queue-size}: beyond it they are refused at once, never queued
 * forever). Each sequence sends one request at a time to the scheduler, in the order they arrived,
 * with the control inputs the model declares filled (START, END, READY, CORRID) and its implicit
 * state (zeros at the start, then what the previous request's state output made); the scheduler's
 * dynamic batcher joins the requests of different sequences that are ready at once into one pass,
 * one row each. The state outputs are kept here and left out of the answer.
 *
 * <p>Concurrency: any thread may {@link #submit}; one lock guards the sequences, the slots and the
 * waiting requests, held only to admit a request, pick a sequence's next one or free a slot;
 * requests go to the scheduler outside it, and each answer (on the thread that completes it) takes
 * it again to keep the state and send the sequence's next request. One task on the injected timer
 * frees idle sequences.
 */
public final class SequenceBatcher implements AutoCloseable {
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

  private boolean closed;
  private final ScheduledFuture<?> reaper;

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
    this.slots = scheduler.instanceCount() * Math.max(1, config.maxBatchSize());
    int q = config.scheduling().maxQueueSize();
    this.maxWaiting = q > 0 ? q : Integer.MAX_VALUE;
    this.idleNanos = TimeUnit.MICROSECONDS.toNanos(sequencing.maxSequenceIdleMicros());
    long period = Math.max(1_000_000, Math.min(idleNanos / 10, 100_000_000));
    this.reaper =
        timer.scheduleWithFixedDelay(this::freeIdle, period, period, TimeUnit.NANOSECONDS);
  }

  /** One sequence: its slot, its requests not yet sent, its state (guarded by the lock). */
  private static final class Sequence {
    final SequenceId id;
    int slot = -1;
    final ArrayDeque<Held> pending = new ArrayDeque<>();
    boolean running;
    long lastNanos;

    /** Per state: the tensor its input gets next; null for zeros (a start). */
    final @Nullable Tensor[] state;

    Sequence(SequenceId id, int states) {
      this.id = id;
      this.state = new Tensor[states];
    }
  }

  /** A request admitted here, with the future its caller holds. */
  private record Held(
      InferenceRequest request,
      RequestValidator.Validated validated,
      @Nullable Executor answerOn,
      CompletableFuture<InferenceResponse> result) {
    RequestOptions.Sequence flags() {
      return request.options().sequence();
    }
  }

  /** A request on its way to the scheduler: its inputs with the controls and state filled. */
  private record Send(Sequence sequence, Held held, RequestValidator.Validated filled) {}

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

  /**
   * Admits a validated request of a sequence; its answer completes the returned future. Throws
   * INVALID_ARGUMENT for a request without a sequence id, of more than one row, or not a start for
   * a sequence that is not open (Triton's messages); RESOURCE_EXHAUSTED when it would wait (for its
   * sequence's turn or a slot) and {@code max-queue-size} requests wait here already; UNAVAILABLE
   * once closed. A cancelled future does not stop the request: its sequence's state must still
   * advance.
   */
  public CompletableFuture<InferenceResponse> submit(
      InferenceRequest request, RequestValidator.Validated v, @Nullable Executor answerOn) {
    RequestOptions.Sequence flags = request.options().sequence();
    SequenceId id = flags.id();
    if (id == null) {
      throw invalid(
          InferenceException.invalid(
              "inference request to model '%s' must specify a non-zero or non-empty correlation ID"
                  + " (parameter '%s')",
              config.name(), RequestOptions.SEQUENCE_ID));
    }
    if (config.batching() && v.batchSize() != 1) {
      throw invalid(
          InferenceException.invalid(
              "model '%s': a request of a sequence has one row (batch size 1), was %d",
              config.name(), v.batchSize()));
    }
    for (ControlInput c : sequencing.controlInputs()) {
      if (c.kind() == SequenceBatchingConfig.Kind.CORRID
          && (c.datatype() == DataType.BYTES) != id.isText()) {
        throw invalid(
            InferenceException.invalid(
                "model '%s' takes %s sequence ids (its control input '%s' is %s), was %s",
                config.name(),
                c.datatype() == DataType.BYTES ? "string" : "integer",
                c.name(),
                c.datatype(),
                id.isText() ? "the string '" + id + "'" : "the integer " + id));
      }
    }
    Held h = new Held(request, v, answerOn, new CompletableFuture<>());
    Send next;
    lock.lock();
    try {
      if (closed) {
        throw InferenceException.unavailable("model '%s' is unloading", config.name());
      }
      Sequence s = holding.get(id);
      if (s == null) {
        s = waitingForSlot.get(id);
      }
      if (s == null && !flags.start()) {
        throw invalid(notStarted(id));
      }
      boolean runsNow =
          s == null
              ? held.nextClearBit(0) < slots
              : s.slot >= 0 && !s.running && s.pending.isEmpty();
      if (!runsNow && waiting >= maxWaiting) {
        throw InferenceException.exhausted(
            "model '"
                + config.name()
                + "' is overloaded: "
                + waiting
                + " requests of its sequences wait (max-queue-size "
                + maxWaiting
                + ", "
                + slots
                + " sequence slots); retry later");
      }
      if (s == null) {
        s = new Sequence(id, sequencing.states().size());
        int slot = held.nextClearBit(0);
        if (slot < slots) {
          s.slot = slot;
          held.set(slot);
          holding.put(id, s);
        } else {
          waitingForSlot.put(id, s);
          backlog.add(s);
        }
      }
      s.pending.add(h);
      waiting++;
      s.lastNanos = ticker.nanoTime();
      next = take(s);
    } finally {
      lock.unlock();
    }
    if (next != null) {
      send(next);
    }
    return h.result;
  }

  private InferenceException notStarted(SequenceId id) {
    return InferenceException.invalid(
        "inference request for sequence %s to model '%s' must specify the START flag on the first"
            + " request of the sequence (parameter '%s')",
        id, config.name(), RequestOptions.SEQUENCE_START);
  }

  /** Counts a refused request as the scheduler counts an invalid one, and returns the error. */
  private InferenceException invalid(InferenceException e) {
    scheduler.countInvalid(1, null);
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
    waiting--;
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
    CompletableFuture<InferenceResponse> ran;
    try {
      ran = scheduler.submit(sent.held().request(), sent.filled(), sent.held().answerOn());
    } catch (RuntimeException e) {
      ran = CompletableFuture.failedFuture(e);
    }
    ran.whenComplete((r, t) -> answered(sent, r, t));
  }

  /** Keeps the state a request made, answers it, and sends what may run next. */
  private void answered(Send x, @Nullable InferenceResponse r, @Nullable Throwable t) {
    Sequence s = x.sequence();
    Held h = x.held();
    List<Send> next = new ArrayList<>(2);
    List<Held> refused = new ArrayList<>();
    InferenceResponse answer = null;
    lock.lock();
    try {
      s.running = false;
      s.lastNanos = ticker.nanoTime();
      if (r != null) {
        answer = keepState(s, h, r);
      }
      if (h.flags().end()) {
        // The sequence ended: its slot goes to the next sequence waiting. Requests that arrived
        // for its id meanwhile start it anew, or are refused as Triton refuses them.
        free(s, next);
        while (!s.pending.isEmpty() && !s.pending.peek().flags().start()) {
          refused.add(s.pending.poll());
          waiting--;
        }
        if (!s.pending.isEmpty()) {
          Sequence again = new Sequence(s.id, s.state.length);
          again.pending.addAll(s.pending);
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
      h.result()
          .completeExceptionally(
              t instanceof CompletionException && t.getCause() != null ? t.getCause() : t);
    }
    for (Send n : next) {
      send(n);
    }
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

  /** Frees a sequence's slot and gives it to the first sequence waiting. Under the lock. */
  private void free(Sequence s, List<Send> next) {
    if (holding.remove(s.id, s)) {
      held.clear(s.slot);
      s.slot = -1;
    }
    Sequence w = backlog.poll();
    if (w != null) {
      waitingForSlot.remove(w.id);
      claim(w, next);
    }
  }

  /** Gives a sequence a free slot (or puts it in the backlog) and takes its next request. */
  private void claim(Sequence s, List<Send> next) {
    int slot = held.nextClearBit(0);
    if (slot < slots && !holding.containsKey(s.id)) {
      s.slot = slot;
      held.set(slot);
      holding.put(s.id, s);
      Send mine = take(s);
      if (mine != null) {
        next.add(mine);
      }
    } else {
      waitingForSlot.put(s.id, s);
      backlog.add(s);
    }
  }

  /** Frees the slots of sequences idle longer than the limit (the timer's task). */
  private void freeIdle() {
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
      for (Sequence s : holding.values()) {
        left.addAll(s.pending);
        s.pending.clear();
      }
      for (Sequence s : backlog) {
        left.addAll(s.pending);
        s.pending.clear();
      }
      waiting = 0;
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
