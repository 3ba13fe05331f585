package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.SchedulingConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.inference.RequestValidator;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelSignature;
import dev.fulcrum.core.scheduler.SchedulerObserver.Outcome;
import dev.fulcrum.core.scheduler.SchedulerObserver.RejectReason;
import dev.fulcrum.core.scheduler.SchedulerObserver.RequestDone;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorBuffers;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scheduler of one model version: a bounded priority queue with atomic admission, a dynamic
 * batcher, and one worker thread per model instance. Any thread may {@link #submit}; the queue is
 * guarded by one lock held only to admit, plan or remove; each worker thread owns its instance and
 * runs joins, forward passes, splits and completions outside the lock (a request admitted with an
 * executor is completed by a task on it, one per executor per pass: {@link PassAnswers}), except
 * while the instance is lent to a submitting thread for a lone pass (below); one expiry task on the
 * injected timer, armed under the lock for the earliest queued deadline, enforces deadlines even
 * while every worker is busy.
 *
 * <p>Lone passes: when a request arrives at an empty queue, an instance's worker is parked with
 * nothing to do, the batching policy would run the request at once by itself, and this version's
 * recent passes of one row were short (at least {@link #SHORT_SHARE} of them, weighted to the
 * recent ones, took less CPU time than the inline limit on the thread that ran them; learned from
 * at least {@link #LEARN_PASSES} passes), the submitting thread borrows the idle instance under the
 * lock and runs the pass itself, so that the request costs no hand-off to the worker and back (two
 * thread wake-ups). The borrow is the instance's ownership for that pass: the worker does not plan
 * while its instance is lent, and does not close it (at unload) until it is returned. Admission,
 * statistics, the policy's bookkeeping and the completion are those of a worker's pass.
 *
 * <p>Turn passes: when that lone request's answers go to a {@link SubmittingLoop} and the request
 * is submitted on that loop's thread (a REST event loop reading a turn's requests), the instance is
 * lent the same way, but the pass is deferred to a task on the loop, which runs after the loop's
 * current turn: the request stays queued, the requests that arrive meanwhile (the turn's other
 * reads, other loops') queue behind it without waking the parked worker, and the task plans the
 * queue as a worker would (the batching policy decides) and runs the plan on the borrowed instance.
 * At saturation (c=64) a turn's requests share one forward pass instead of one each; a request that
 * arrives alone is answered in the same turn, still without a hand-off.
 *
 * <p>Instance choice: each worker parks on a condition of its own, so that new work wakes the one
 * worker the {@link InstanceChoice} names among the parked ones whose instance is not lent (by
 * default the one whose last pass ended latest: at low load one instance stays in the caches), and
 * a lone pass borrows the same instance. A worker chosen is marked not parked when it is signalled,
 * so a second request that arrives before it runs wakes another.
 *
 * <p>Idle workers (with a positive {@code workerIdle}): no worker thread is started with the
 * scheduler; the wake-up that finds a worker's thread absent starts it instead, and a worker that
 * has had nothing to do for {@code workerIdle} ends its thread, under the lock, leaving its
 * instance open and counted as parked (so a lone pass may still borrow it). Its instance stays
 * owned by its worker: the next thread of that worker runs its passes, and at a close every absent
 * worker's thread is started to run what is queued, wait for a lent pass, and close the instance.
 * New work goes to a parked worker that has a thread before one that has none, whatever the {@link
 * InstanceChoice}: a thread is started only when no parked one could take the work.
 */
public final class ModelScheduler implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ModelScheduler.class);

  /**
   * The inline limit {@code serve} uses: a model whose passes of one row are mostly shorter (the
   * demo's fraud model: ~15 us) runs a lone request on the submitting thread when the instance is
   * idle; MiniLM (~2 ms) never does.
   */
  public static final Duration DEFAULT_INLINE_PASS_LIMIT = Duration.ofNanos(150_000);

  /** Passes of one row measured before a version may run a lone pass inline. */
  static final int LEARN_PASSES = 8;

  /**
   * The share of recent passes of one row that must be shorter than the limit. Passes are timed in
   * the running thread's CPU time, not wall time, and judged by a share, not an average: on a busy
   * machine a preempted pass takes milliseconds of wall time, and neither the wait for a core nor a
   * few outliers say how long the pass holds the thread that runs it.
   */
  static final double SHORT_SHARE = 0.75;

  /**
   * The share of recent passes that met contention (a lent pass at whose end requests were waiting;
   * a worker's pass of one row counts as none, its batches of more are not counted) above which no
   * instance is lent. Under load a lent pass only splits the batches the worker would form
   * (measured: at c=64 on the fraud model, 2x the passes and 10 % less throughput with lending
   * regardless of load), so lending is for requests that arrive alone.
   */
  static final double MAX_CONTENTION = 0.25;

  private final String label;
  private final ModelConfig config;
  private final SchedulingConfig policy;
  private final List<ModelInstance> instances;

  /** The first instance's signature (all instances load the same file), for its index bounds. */
  private final @Nullable ModelSignature signature;

  private final Ticker ticker;
  private final ScheduledExecutorService timer;
  private final SchedulerObserver observer;
  private final ReentrantLock lock = new ReentrantLock();

  /** The retry hint of a refusal for load ({@link DrainEstimate}); fed at each pass's end. */
  private final DrainEstimate drain;

  /**
   * Per worker: the condition it parks on, so that a wake-up reaches the worker {@link #choice}
   * names (one shared condition would wake the one parked longest).
   */
  private final Condition[] wakeUps;

  /** Which idle instance the next pass goes to. */
  private final InstanceChoice choice;

  /**
   * Per instance: the count of passes ended on any instance of this version when its last pass
   * ended (0: none yet), the order {@link #choice} reads; guarded by {@link #lock}.
   */
  private final long[] lastPassEnded;

  /** Passes ended on this version's instances; guarded by {@link #lock}. */
  private long passesEnded;

  /**
   * Per worker: its pass is over and its answers are being handed out, and it has not planned the
   * queue since (it will before it parks); guarded by {@link #lock}. With {@link
   * InstanceChoice#MOST_RECENT} a request that arrives then wakes nobody: the worker that just ran
   * takes it, rather than a parked one whose instance is cold (at c=1 the next request often comes
   * before the worker that answered the last one has parked).
   */
  private final boolean[] finishing;

  private final RequestQueue queue;

  /**
   * What a pass of two or more requests joins their inputs into: a batch of up to 2 KiB (64 fraud
   * rows, 16 MiniLM requests of 16 tokens) is a slice of a 16 KiB slab, so such a pass registers no
   * {@code Cleaner} of its own (its phantom reference was processed in every young pause).
   */
  private final TensorBuffers joinBuffers = TensorBuffers.slabs(16 * 1024, 2 * 1024);

  private final BatchingPolicy batching;
  private final OrderedRelease release;

  /**
   * Per worker: its thread, or null while it has none (not started yet, or ended after {@link
   * #workerIdleNanos} idle); guarded by {@link #lock}.
   */
  private final @Nullable Thread[] workers;

  /** Makes the worker threads. */
  private final ThreadFactory threads;

  /**
   * How long a worker with nothing to do keeps its thread; 0: every worker's thread starts with the
   * scheduler and lives until the close.
   */
  private final long workerIdleNanos;

  /** Worker threads started so far (tests). */
  private final AtomicInteger threadsStarted = new AtomicInteger();

  private final AtomicInteger executing = new AtomicInteger();

  /** Told of each successful pass, or null; set for good when {@link #passListener} decides. */
  private volatile @Nullable PassListener passListener;

  /** Whether {@link #passListener} has decided (written after the listener). */
  private volatile boolean passListenerDecided;

  /** A pipeline's token ids: requests of different lengths batch, padded to the longest. */
  private final boolean paddable;

  /** A pipeline whose rows each run alone (see PipelineConfig.Batching.ALONE). */
  private final boolean alone;

  private long nextSeq;
  private boolean closed;

  /** The one pending expiry task, or null; guarded by {@link #lock}. */
  private @Nullable ScheduledFuture<?> expiry;

  /** Inline lone passes only when most passes of one row are shorter; 0: never. */
  private final long inlineLimitNanos;

  /** The CPU time of the calling thread, by which passes of one row are judged short. */
  private final Ticker passClock;

  /**
   * How many more passes of one row are timed on {@link #passClock} as well as on the wall clock:
   * set to {@link #CPU_TIMED_PASSES} by a pass whose wall time was over the inline limit (a
   * preempted or slow one), counted down by each pass of one row. While it is 0 (every recent pass
   * short in wall time, the quiet machine's case) the CPU clock, a system call per read, is not
   * read at all. A hint read and written by whichever thread runs a pass, without a lock: a lost
   * update only times a pass more or fewer.
   */
  private volatile int cpuTimedPasses;

  /** Passes of one row timed on the CPU clock after one whose wall time was over the limit. */
  static final int CPU_TIMED_PASSES = 64;

  /**
   * Per instance: its worker is parked with nothing to run and has not been woken for new work
   * since; guarded by {@link #lock}.
   */
  private final boolean[] parked;

  /** Per instance: lent to a submitting thread for a lone pass; guarded by {@link #lock}. */
  private final boolean[] lent;

  /** Turn passes lent and not yet started; guarded by {@link #lock}. */
  private int pendingTurns;

  /** Workers waiting for their lent instance to come back; guarded by {@link #lock}. */
  private int returnWaiters;

  /**
   * The share of recent clean passes of one row shorter than the inline limit (an exponentially
   * weighted average of 1 for short, 0 for long, weight 1/{@link #LEARN_PASSES}); guarded by {@link
   * #lock}.
   */
  private double shortShare;

  /**
   * The share of recent passes that met contention (see {@link #MAX_CONTENTION}), weighted as
   * {@link #shortShare}; guarded by {@link #lock}.
   */
  private double contention;

  /** Clean passes of one row seen, up to {@link #LEARN_PASSES}; guarded by {@link #lock}. */
  private int lonePasses;

  /** The deadline {@link #expiry} is armed for. */
  private long expiryDeadline;

  /** Counts armings, so that a superseded expiry task that runs anyway leaves the arming alone. */
  private long expiryGeneration;

  /**
   * Whether a {@link PassListener} is told of this scheduler's passes, deciding it the first time:
   * then {@code first} (null for none) is installed for good, before the caller submits, so every
   * pass that holds a request submitted after this call returned true is told. Later calls return
   * the decision (a volatile read).
   */
  public boolean passListener(@Nullable PassListener first) {
    if (!passListenerDecided) {
      synchronized (this) {
        if (!passListenerDecided) {
          passListener = first;
          passListenerDecided = true;
        }
      }
    }
    return passListener != null;
  }

  /** True when {@link #passListener} has not decided yet. */
  public boolean passListenerUndecided() {
    return !passListenerDecided;
  }

  /**
   * How a scheduler runs beyond its model: the time, threads and deadline timer it takes from
   * outside, the observer it tells of each request, and the tuning of lone passes, instance choice
   * and idle workers. {@link #of} gives the defaults; each {@code with} method returns a copy with
   * one setting changed. Immutable, so one may be shared by any number of threads and schedulers.
   */
  public static final class Options {
    private final Ticker ticker;
    private final ThreadFactory threads;
    private final ScheduledExecutorService timer;
    private final SchedulerObserver observer;
    private final Duration inlineLimit;
    private final InstanceChoice choice;
    private final Duration workerIdle;

    /** Null: the calling thread's CPU time, as {@code threadCpu()} reads it at construction. */
    private final @Nullable Ticker passClock;

    private Options(
        Ticker ticker,
        ThreadFactory threads,
        ScheduledExecutorService timer,
        SchedulerObserver observer,
        Duration inlineLimit,
        InstanceChoice choice,
        Duration workerIdle,
        @Nullable Ticker passClock) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      this.threads = Objects.requireNonNull(threads, "threads");
      this.timer = Objects.requireNonNull(timer, "timer");
      this.observer = Objects.requireNonNull(observer, "observer");
      this.inlineLimit = Objects.requireNonNull(inlineLimit, "inlineLimit");
      this.choice = Objects.requireNonNull(choice, "choice");
      this.workerIdle = Objects.requireNonNull(workerIdle, "workerIdle");
      if (workerIdle.isNegative()) {
        throw new IllegalArgumentException("workerIdle must not be negative, was " + workerIdle);
      }
      this.passClock = passClock;
    }

    /**
     * The defaults around the one setting that has none: system time, platform threads from {@link
     * Executors#defaultThreadFactory()}, no observer, no lone pass on a submitting thread (every
     * pass on a worker), {@link InstanceChoice#DEFAULT}, and worker threads that start with the
     * scheduler and live until its close.
     *
     * @param timer runs queue-timeout expiries: at most one pending task per scheduler; owned by
     *     the caller, who shuts it down
     */
    public static Options of(ScheduledExecutorService timer) {
      return new Options(
          Ticker.system(),
          Executors.defaultThreadFactory(),
          timer,
          SchedulerObserver.none(),
          Duration.ZERO,
          InstanceChoice.DEFAULT,
          Duration.ZERO,
          null);
    }

    /** With {@code ticker} as monotonic time (tests pass a fake). */
    public Options withTicker(Ticker ticker) {
      return new Options(
          ticker, threads, timer, observer, inlineLimit, choice, workerIdle, passClock);
    }

    /** With {@code threads} making the worker threads (named by the scheduler). */
    public Options withThreads(ThreadFactory threads) {
      return new Options(
          ticker, threads, timer, observer, inlineLimit, choice, workerIdle, passClock);
    }

    /** With {@code observer} told of each request (one; {@link SchedulerObserver#all} for more). */
    public Options withObserver(SchedulerObserver observer) {
      return new Options(
          ticker, threads, timer, observer, inlineLimit, choice, workerIdle, passClock);
    }

    /**
     * With lone passes: a lone request runs on the submitting thread when the instance is idle and
     * this version's recent passes of one row were mostly shorter than {@code inlineLimit}; {@link
     * Duration#ZERO}: never.
     */
    public Options withInlineLimit(Duration inlineLimit) {
      return new Options(
          ticker, threads, timer, observer, inlineLimit, choice, workerIdle, passClock);
    }

    /** With {@code choice} picking the idle instance the next pass goes to (none with one). */
    public Options withInstanceChoice(InstanceChoice choice) {
      return new Options(
          ticker, threads, timer, observer, inlineLimit, choice, workerIdle, passClock);
    }

    /**
     * With idle workers: positive, each worker's thread starts when the first request needs it and
     * ends after this long with nothing to do (started again by the next); {@link Duration#ZERO}:
     * the threads start with the scheduler and live until its close.
     *
     * @throws IllegalArgumentException if {@code workerIdle} is negative
     */
    public Options withWorkerIdle(Duration workerIdle) {
      return new Options(
          ticker, threads, timer, observer, inlineLimit, choice, workerIdle, passClock);
    }

    /** With {@code passClock} timing a pass of one row instead of the thread's CPU time (tests). */
    Options withPassClock(Ticker passClock) {
      return new Options(
          ticker, threads, timer, observer, inlineLimit, choice, workerIdle, passClock);
    }
  }

  /**
   * Starts one worker per instance, or none yet with idle workers ({@link Options#withWorkerIdle}).
   *
   * @param label names the worker threads, e.g. {@code fraud_classifier-v1}
   * @param options time, threads, timer, observer and tuning; {@link Options#of} for the defaults
   */
  public ModelScheduler(
      String label, ModelConfig config, List<ModelInstance> instances, Options options) {
    this.label = label;
    this.choice = options.choice;
    this.passClock = options.passClock != null ? options.passClock : threadCpu();
    this.inlineLimitNanos = options.inlineLimit.toNanos();
    this.config = config;
    this.policy = config.scheduling();
    this.instances = List.copyOf(instances);
    this.signature = this.instances.isEmpty() ? null : this.instances.get(0).signature();
    this.parked = new boolean[this.instances.size()];
    this.lent = new boolean[this.instances.size()];
    this.lastPassEnded = new long[this.instances.size()];
    this.finishing = new boolean[this.instances.size()];
    this.wakeUps = new Condition[this.instances.size()];
    for (int i = 0; i < wakeUps.length; i++) {
      wakeUps[i] = lock.newCondition();
    }
    this.ticker = options.ticker;
    this.timer = options.timer;
    this.observer = options.observer;
    this.batching =
        config.slo().hasObjective()
            ? new SloBatchingPolicy(
                config.name(),
                config.slo(),
                config.batching() ? config.maxBatchSize() : 1,
                this.instances.size())
            : new StaticBatchingPolicy(policy, config.maxBatchSize());
    this.queue =
        new RequestQueue(policy, config.dynamicBatching(), config.maxBatchSize(), batching);
    this.drain =
        new DrainEstimate(config.batching() ? config.maxBatchSize() : 1, this.instances.size());
    this.release = new OrderedRelease(policy.preserveOrdering());
    this.paddable = config.pipeline() != null && config.pipeline().padsSequences();
    this.alone =
        config.pipeline() != null
            && config.pipeline().batching()
                == dev.fulcrum.core.config.PipelineConfig.Batching.ALONE;
    this.threads = options.threads;
    this.workerIdleNanos = options.workerIdle.toNanos();
    this.workers = new Thread[this.instances.size()];
    if (workerIdleNanos == 0) {
      List<Thread> started = new ArrayList<>();
      for (int i = 0; i < this.instances.size(); i++) {
        Thread t = newWorker(i);
        workers[i] = t;
        started.add(t);
      }
      started.forEach(Thread::start);
      threadsStarted.addAndGet(started.size());
    } else {
      // No thread yet: each worker counts as parked until a request starts its thread.
      Arrays.fill(parked, true);
    }
  }

  /** Worker {@code index}'s thread, not started. */
  private Thread newWorker(int index) {
    ModelInstance instance = instances.get(index);
    Thread t = threads.newThread(() -> work(instance, index));
    t.setName("fulcrum-exec-" + label + "-" + index);
    t.setDaemon(true);
    return t;
  }

  /**
   * Starts worker {@code index}'s thread, which it does not have (not started yet, or ended idle);
   * under the lock. A thread the JVM cannot start (out of memory or of the process's thread limit)
   * leaves the worker without one, logged: the next wake-up tries again, and what is queued waits
   * for it or for its deadline.
   *
   * @return whether the thread started
   */
  private boolean startWorker(int index) {
    Thread t = newWorker(index);
    try {
      t.start();
    } catch (OutOfMemoryError e) {
      log.error("model {}: could not start the thread of instance {}", label, index, e);
      return false;
    }
    workers[index] = t;
    parked[index] = false;
    threadsStarted.incrementAndGet();
    return true;
  }

  /**
   * The calling thread's CPU time (on Linux a clock_gettime of the thread's CPU clock: a real
   * system call, since the vDSO serves only the wall clocks; 1-2 µs on a small VM), or wall time
   * where the JVM cannot measure it.
   */
  private static Ticker threadCpu() {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    if (!mx.isCurrentThreadCpuTimeSupported() || !mx.isThreadCpuTimeEnabled()) {
      return Ticker.system();
    }
    return mx::getCurrentThreadCpuTime;
  }

  public int instanceCount() {
    return instances.size();
  }

  /** Requests waiting in the queue now. */
  public int queued() {
    lock.lock();
    try {
      return queue.size();
    } finally {
      lock.unlock();
    }
  }

  /** What the batching policy does now: its batch size, delay and learned pass times. */
  public PolicyState policyState() {
    lock.lock();
    try {
      return batching.state(ticker.nanoTime());
    } finally {
      lock.unlock();
    }
  }

  /** Requests queued or running now (Triton's pending request count). */
  public int pending() {
    return queued() + executing.get();
  }

  /**
   * Admits a validated request, or refuses it at once: RESOURCE_EXHAUSTED when the queue is full,
   * UNAVAILABLE when the scheduler is closed; INVALID_ARGUMENT (thrown) for an index input out of
   * the model's range. Never blocks on the engine. Cancelling the returned future removes the
   * request from the queue if it has not started.
   */
  public CompletableFuture<InferenceResponse> submit(
      InferenceRequest request, RequestValidator.Validated v) {
    return submit(request, v, null);
  }

  /**
   * As {@link #submit(InferenceRequest, RequestValidator.Validated)}; when a worker's pass answers
   * the request, its future is completed by a task on {@code answerOn} (the transport's event loop
   * that writes the answer), one task for all of the pass's requests with the same executor, so
   * that a pass wakes each sleeping loop once rather than once per request. Null: completed on the
   * worker (the completion then hands itself over, if it must). A lone pass on the submitting
   * thread, and a request that does not run (timed out, dropped, cancelled, failed), complete where
   * they end, as without it; with preserve-ordering every completion runs on the releasing thread.
   */
  public CompletableFuture<InferenceResponse> submit(
      InferenceRequest request, RequestValidator.Validated v, @Nullable Executor answerOn) {
    return submit(request, v, answerOn, null);
  }

  /**
   * As {@link #submit(InferenceRequest, RequestValidator.Validated, Executor)}; the request's own
   * statistics events (how it ended, or its refusal) go to {@code counter} instead of the
   * scheduler's observer when it is not null: its caller counts the request once it has answered it
   * (a pipeline: its steps after the model, the rows of a many-row request). Passes and batches are
   * counted as always.
   */
  public CompletableFuture<InferenceResponse> submit(
      InferenceRequest request,
      RequestValidator.Validated v,
      @Nullable Executor answerOn,
      @Nullable SchedulerObserver counter) {
    try {
      RequestValidator.checkAgainstGraph(config.name(), signature, v.inputs());
    } catch (InferenceException e) {
      countInvalid(v.batchSize(), counter);
      throw e;
    }
    return admit(request, v.inputs(), v.outputNames(), v.batchSize(), null, answerOn, counter);
  }

  /**
   * Counts a request refused with 400 / INVALID_ARGUMENT before it was queued (its inputs do not
   * fit the model): Triton counts such a request in {@code fail}, and a client that sends nothing
   * else would otherwise look idle. Any thread.
   *
   * @param rows its batch rows (1 when not known)
   * @param counter its caller's counter (a pipeline's tally), or null for this scheduler's
   */
  public void countInvalid(int rows, @Nullable SchedulerObserver counter) {
    long now = ticker.nanoTime();
    (counter != null ? counter : observer)
        .requestDone(new RequestDone(Outcome.INVALID, Math.max(1, rows), 0, 0, 0, 0, 0, 0, now));
  }

  /**
   * Where a request waits in this scheduler's queue: its priority level and the queue policy it
   * meets there (the level's own {@code priority-queue-policy}, else the default one).
   *
   * @param level the level's index (0: priority level 1; below {@link #queueLevels()})
   * @param policy its timeout, timeout action and bound
   * @param own whether the level has a policy of its own, whose bound counts its requests alone;
   *     else the default's bound counts the requests of every level without one together
   */
  public record QueueRule(int level, SchedulingConfig.QueuePolicy policy, boolean own) {}

  /**
   * The {@link QueueRule} a request of these options meets, as {@link #submit} would place it.
   * Throws INVALID_ARGUMENT for a {@code priority} outside 1..priority-levels. Any thread.
   */
  public QueueRule queueRule(RequestOptions options) {
    int level = level(options);
    return new QueueRule(level, queue.policy(level), queue.ownPolicy(level));
  }

  /** The queue's priority levels ({@link QueueRule#level()} is below it). Any thread. */
  public int queueLevels() {
    return queue.bestEffortLevel() + 1;
  }

  /**
   * When a request admitted now must have left a queue in front of this scheduler (the sequence
   * batcher's): now plus its queue timeout as this scheduler takes it (its priority level's queue
   * policy's {@code default-timeout-microseconds}, or the request's {@code timeout} where allowed),
   * or {@link Long#MAX_VALUE} when it has none or that policy's timeout action is not REJECT.
   * Throws INVALID_ARGUMENT for a {@code priority} outside 1..priority-levels. Any thread.
   */
  public long rejectDeadline(RequestOptions options, long now) {
    SchedulingConfig.QueuePolicy q = queue.policy(level(options));
    long micros = timeoutMicros(options, q);
    if (micros <= 0 || q.timeoutAction() != SchedulingConfig.TimeoutAction.REJECT) {
      return Long.MAX_VALUE;
    }
    return now + Math.min(micros, Long.MAX_VALUE / 4000) * 1000;
  }

  /**
   * Counts a request that left a queue in front of this scheduler without running (timed out,
   * cancelled), as this scheduler counts one that left its own queue. Any thread.
   *
   * @param arrivalNanos when it arrived, on this scheduler's clock
   * @param counter its caller's counter, or null for this scheduler's observer
   */
  public void countNotRun(
      Outcome outcome,
      int rows,
      long arrivalNanos,
      RequestOptions options,
      @Nullable SchedulerObserver counter) {
    long now = ticker.nanoTime();
    long waited = now - arrivalNanos;
    (counter != null ? counter : observer)
        .requestDone(
            new RequestDone(
                outcome,
                Math.max(1, rows),
                0,
                waited,
                0,
                0,
                0,
                waited,
                now,
                options.sloClass() == RequestOptions.SloClass.BEST_EFFORT));
  }

  /**
   * Counts a request refused because a queue in front of this scheduler (the sequence batcher's)
   * was full, as this scheduler counts one its own full queue refuses. Any thread.
   *
   * @param counter its caller's counter, or null for this scheduler's observer
   */
  public void countRejected(int rows, RequestOptions options, @Nullable SchedulerObserver counter) {
    (counter != null ? counter : observer)
        .rejected(
            new SchedulerObserver.Rejected(
                RejectReason.QUEUE_FULL,
                Math.max(1, rows),
                0,
                ticker.nanoTime(),
                options.sloClass() == RequestOptions.SloClass.BEST_EFFORT));
  }

  /** The answer to a request whose queue timeout passed before it ran (DEADLINE_EXCEEDED). */
  public InferenceException timedOut(long waitedNanos) {
    return new InferenceException(
        ErrorCode.DEADLINE_EXCEEDED,
        String.format(
            "model '%s': the request timed out after %d us in the queue and was not run",
            config.name(), waitedNanos / 1000));
  }

  /**
   * Makes a deferred request's engine inputs on the worker that takes it, just before its pass: a
   * pipeline's tokenizer, run on an engine thread that would otherwise wait for it, which saves a
   * hand-off between threads. Called once, on that worker; an exception fails the request alone.
   */
  @FunctionalInterface
  public interface Preparation {
    /**
     * @return the engine's inputs (their index inputs are checked as {@link #submit} checks them)
     *     and outputs, for the rows the request was admitted with
     */
    RequestValidator.Validated prepare();
  }

  /**
   * Admits a request whose inputs a worker makes just before it runs the request, in a pass of its
   * own; otherwise as {@link #submit}. The preparation's time counts neither as queue nor as
   * compute time: the caller reports it (a pipeline's pre-processing).
   *
   * @param rows the request's batch rows
   */
  public CompletableFuture<InferenceResponse> submitDeferred(
      InferenceRequest request, int rows, Preparation preparation) {
    return submitDeferred(request, rows, preparation, null);
  }

  /**
   * As {@link #submitDeferred(InferenceRequest, int, Preparation)}, its statistics events to {@code
   * counter} as {@link #submit(InferenceRequest, RequestValidator.Validated, Executor,
   * SchedulerObserver)} sends them.
   */
  public CompletableFuture<InferenceResponse> submitDeferred(
      InferenceRequest request,
      int rows,
      Preparation preparation,
      @Nullable SchedulerObserver counter) {
    return admit(request, List.of(), List.of(), rows, preparation, null, counter);
  }

  /** The scheduler's clock ({@link Ticker}), for events reported beside its own. */
  public long nanoTime() {
    return ticker.nanoTime();
  }

  /**
   * Whether a worker would take a request now rather than after the queue's work: nothing waits and
   * fewer requests run than there are instances. A lock-free hint, not a reservation.
   */
  public boolean hasIdleWorker() {
    return queue.size() == 0 && executing.get() < instances.size();
  }

  private CompletableFuture<InferenceResponse> admit(
      InferenceRequest request,
      List<Tensor> inputs,
      List<String> outputs,
      int rows,
      @Nullable Preparation preparation,
      @Nullable Executor answerOn,
      @Nullable SchedulerObserver counter) {
    int level = level(request.options());
    long now = ticker.nanoTime();
    long timeoutMicros = timeoutMicros(request.options(), queue.policy(level));
    long deadline =
        timeoutMicros > 0
            ? now + Math.min(timeoutMicros, Long.MAX_VALUE / 4000) * 1000
            : Long.MAX_VALUE;
    PendingRequest p;
    int borrowed = -1;
    int turn = -1;
    @Nullable SubmittingLoop turnLoop = null;
    RequestQueue.@Nullable Dropped dropped = null;
    lock.lock();
    try {
      if (closed) {
        return CompletableFuture.failedFuture(
            InferenceException.unavailable("model '%s' is unloading", config.name()));
      }
      p =
          new PendingRequest(
              request,
              inputs,
              outputs,
              rows,
              level,
              now,
              deadline,
              nextSeq,
              paddable,
              alone,
              preparation,
              answerOn);
      p.counter = counter;
      boolean wasEmpty = queue.size() == 0;
      String refusal = batching.refusal(p, queue.rowsAhead(level), now);
      if (refusal != null) {
        observerOf(p)
            .rejected(
                new SchedulerObserver.Rejected(RejectReason.SLO, p.rows, 0, now, bestEffort(p)));
        return CompletableFuture.failedFuture(
            InferenceException.exhausted(
                refusal, drain.untilServed(queue.rowsAhead(level) + p.rows)));
      }
      if (bestEffortOverHalf(p)) {
        observerOf(p)
            .rejected(
                new SchedulerObserver.Rejected(
                    RejectReason.QUEUE_FULL, p.rows, 0, now, bestEffort(p)));
        return CompletableFuture.failedFuture(
            InferenceException.exhausted(
                "model '"
                    + config.name()
                    + "': a best-effort request waits only while the queue is less than half full"
                    + " (max-queue-size "
                    + queue.policy(p.level).maxQueueSize()
                    + "; the rest is kept for requests held to the SLO); retry later",
                drain.untilServed(queue.rows() + p.rows)));
      }
      if (!queue.offer(p)) {
        observerOf(p)
            .rejected(
                new SchedulerObserver.Rejected(
                    RejectReason.QUEUE_FULL, p.rows, 0, now, bestEffort(p)));
        return CompletableFuture.failedFuture(overloaded(queue.rows() + p.rows, level));
      }
      nextSeq++;
      batching.admitted(p, now);
      int idle = wasEmpty && p.preparation == null ? idleInstance() : -1;
      if (idle >= 0 && answerOn instanceof SubmittingLoop loop && loop.inLoop()) {
        // Lent for a pass at the end of this loop's turn; p stays queued until then.
        turn = idle;
        turnLoop = loop;
        pendingTurns++;
        lent[idle] = true;
      } else if (idle >= 0) {
        // The queue holds only p: a plan now either runs p alone, drops it, or waits for more.
        RequestQueue.Plan plan = queue.plan(now);
        if (plan.ready()) {
          borrowed = idle;
          lent[idle] = true;
          executing.incrementAndGet();
          batching.started(idle, p.rows, now);
        } else if (plan.dropped() != null) {
          dropped = plan.dropped();
        }
      }
      if (borrowed < 0 && dropped == null) {
        if (p.hasDeadline() && (expiry == null || deadline - expiryDeadline < 0)) {
          armExpiry(deadline, now);
        }
        // A pending turn pass will plan the queue: a worker whose instance is lent would only
        // wake to park again.
        if (pendingTurns == 0 || parkedUnlent() >= 0) {
          wake();
        }
      }
    } finally {
      lock.unlock();
    }
    if (turnLoop != null) {
      int index = turn;
      try {
        turnLoop.execute(() -> runTurn(index));
      } catch (RejectedExecutionException e) {
        runTurn(index); // the loop is shutting down: the pass runs now, as a lone pass would
      }
    } else if (borrowed >= 0) {
      runLent(borrowed, p);
      return p.future;
    }
    if (dropped != null) {
      finishDropped(dropped);
      return p.future;
    }
    p.future.whenComplete(
        (r, t) -> {
          if (t instanceof CancellationException) {
            cancel(p);
          }
        });
    return p.future;
  }

  /**
   * An instance a lone request may borrow now (its worker parked, nothing else lent it), or -1 when
   * none, or while this version's passes of one row are not known to be short; under the lock.
   */
  private int idleInstance() {
    if (inlineLimitNanos <= 0
        || closed
        || lonePasses < LEARN_PASSES
        || shortShare < SHORT_SHARE
        || contention > MAX_CONTENTION) {
      return -1;
    }
    return parkedUnlent();
  }

  /**
   * The instance {@link #choice} names among those whose worker is parked and which nothing has
   * borrowed, or -1; under the lock. Ties (no pass yet) go to the lowest index.
   */
  private int parkedUnlent() {
    int chosen = -1;
    boolean recent = choice == InstanceChoice.MOST_RECENT;
    for (int i = 0; i < parked.length; i++) {
      if (parked[i]
          && !lent[i]
          && (chosen < 0
              || (recent
                  ? lastPassEnded[i] > lastPassEnded[chosen]
                  : lastPassEnded[i] < lastPassEnded[chosen]))) {
        chosen = i;
      }
    }
    return chosen;
  }

  /** Notes that a pass on instance {@code index} ended now, for {@link #choice}; under the lock. */
  private void passEnded(int index) {
    lastPassEnded[index] = ++passesEnded;
  }

  /**
   * Wakes every worker (a close, an instance given back); under the lock. A worker without a thread
   * gets one at a close (to close its instance), or when work is queued and no thread would take it
   * ({@link #wake}).
   */
  private void wakeAll() {
    for (Condition c : wakeUps) {
      c.signalAll();
    }
    if (workerIdleNanos == 0) {
      return;
    }
    if (closed) {
      for (int i = 0; i < workers.length; i++) {
        if (workers[i] == null) {
          startWorker(i);
        }
      }
    } else if (queue.size() > 0) {
      wake();
    }
  }

  /**
   * Joins no more requests into one pass: the model's dynamic first dimension is not a batch (its
   * rows depend on each other, found when the version loaded); each request runs alone.
   */
  public void stopJoining() {
    lock.lock();
    try {
      queue.stopJoining();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Runs a turn pass on the instance lent to this (the loop's) thread: plans the queue as a worker
   * would and runs the plan, then returns the instance to its worker. When the policy would wait,
   * or drops the request, the worker gets the instance back at once and takes over.
   */
  private void runTurn(int index) {
    List<PendingRequest> batch = List.of();
    List<PendingRequest> timedOut;
    RequestQueue.@Nullable Dropped dropped = null;
    long now;
    lock.lock();
    try {
      pendingTurns--;
      now = ticker.nanoTime();
      timedOut = queue.expire(now);
      if (!closed && timedOut.isEmpty()) {
        RequestQueue.Plan plan = queue.plan(now);
        if (plan.ready()) {
          batch = plan.batch();
          executing.addAndGet(batch.size());
          batching.started(index, rows(batch), now);
        } else {
          dropped = plan.dropped();
        }
      }
      if (batch.isEmpty()) {
        lent[index] = false;
        wakeAll();
      }
    } finally {
      lock.unlock();
    }
    timedOut.forEach(this::finishTimedOut);
    if (dropped != null) {
      finishDropped(dropped);
    }
    if (batch.isEmpty()) {
      return;
    }
    long passNanos = RERUN;
    int rows = rows(batch);
    try {
      passNanos = run(instances.get(index), batch, true);
    } finally {
      executing.addAndGet(-batch.size());
      long end = ticker.nanoTime();
      lock.lock();
      try {
        // Requests that arrived during the pass (another loop's) go to the worker; that is not
        // counted as contention: a turn pass joins what queued, it does not split a batch.
        giveBack(index, rows, passNanos, now, end);
      } finally {
        lock.unlock();
      }
    }
  }

  /**
   * Returns an instance borrowed for a pass of {@code rows} rows that began at {@code start}: the
   * policy's and the lone-pass bookkeeping, then its worker woken when work that arrived meanwhile,
   * or a close, waits for it; when nothing waits, the parked worker stays asleep (a wake-up per
   * request is what a borrowed pass exists to save). Under the lock.
   */
  private void giveBack(int index, int rows, long passNanos, long start, long end) {
    lent[index] = false;
    passEnded(index);
    batching.finished(index, rows, passNanos != RERUN ? end - start : -1, end);
    drain.passFinished(passNanos != RERUN ? end - start : -1);
    learnPass(rows, passNanos);
    if (returnWaiters > 0 || queue.size() > 0 || closed) {
      wakeAll();
    }
  }

  /** Whether a lone request arriving now would run on its submitting thread (for tests). */
  boolean lendable() {
    lock.lock();
    try {
      return queue.size() == 0 && idleInstance() >= 0;
    } finally {
      lock.unlock();
    }
  }

  /** Workers parked now with their instance not lent, i.e. one a new request could wake (tests). */
  int parkedWorkers() {
    lock.lock();
    try {
      int n = 0;
      for (int i = 0; i < parked.length; i++) {
        n += parked[i] && !lent[i] ? 1 : 0;
      }
      return n;
    } finally {
      lock.unlock();
    }
  }

  /** Whether recent lent passes met enough contention that nothing is lent (for tests). */
  boolean contended() {
    lock.lock();
    try {
      return contention > MAX_CONTENTION;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Wakes the worker {@link #choice} names for new work, if one is parked with its instance not
   * lent (a worker whose instance is lent could not run it; a running one plans again when its pass
   * ends); under the lock. The worker is marked not parked at once, so that neither the next
   * wake-up nor a lone pass picks it again before it runs.
   */
  private void wake() {
    if (choice == InstanceChoice.MOST_RECENT) {
      for (boolean f : finishing) {
        if (f) {
          return; // that worker plans the queue before it parks
        }
      }
    }
    int i = parkedUnlent();
    if (i < 0) {
      return;
    }
    if (workers[i] == null) {
      // A worker that has a thread, parked, goes first: a thread is started only when none is.
      for (int j = 0; j < workers.length; j++) {
        if (workers[j] != null && parked[j] && !lent[j]) {
          i = j;
          break;
        }
      }
    }
    if (workers[i] != null) {
      parked[i] = false;
      wakeUps[i].signal();
    } else if (queue.size() > 0) {
      startWorker(i); // its first request, or the first after it ended idle
    }
  }

  /** Learns whether a pass met contention (other requests waiting for it); under the lock. */
  private void noteContention(boolean contended) {
    contention += ((contended ? 1 : 0) - contention) / LEARN_PASSES;
  }

  /** Learns from a clean pass of one row how long such a pass takes; under the lock. */
  private void learnPass(int rows, long nanos) {
    if (rows != 1 || nanos < 0) {
      return;
    }
    double isShort = nanos < inlineLimitNanos ? 1 : 0;
    if (lonePasses == 0) {
      shortShare = isShort;
    } else {
      shortShare += (isShort - shortShare) / LEARN_PASSES;
    }
    if (lonePasses < LEARN_PASSES) {
      lonePasses++;
    }
  }

  /**
   * Runs a lone request's pass on this (the submitting) thread on the instance it borrowed, then
   * returns the instance to its worker: the same pass, statistics and completion as a worker's.
   */
  private void runLent(int index, PendingRequest p) {
    long start = ticker.nanoTime();
    long passNanos = RERUN;
    try {
      passNanos = run(instances.get(index), List.of(p), false);
    } finally {
      executing.decrementAndGet();
      long end = ticker.nanoTime();
      lock.lock();
      try {
        noteContention(queue.size() > 0);
        giveBack(index, p.rows, passNanos, start, end);
      } finally {
        lock.unlock();
      }
    }
  }

  /**
   * Refuses a request at once when the queue is full now, so that a transport can answer overload
   * before it decodes the request's tensors; the refusal is counted as a rejection. A shortcut, not
   * the admission: {@link #submit} stays the one atomic check, and may still refuse a request that
   * passed here.
   *
   * <p>With levels of their own policy ({@code priority-queue-policy}) the bound a request meets
   * depends on its level, which is not known before its body is decoded: it is refused here only
   * when every bound it may meet is full (its level's own or the default's, whatever its level), a
   * lower bound of what {@link #submit} refuses; the rest is {@link #submit}'s to decide.
   *
   * @throws InferenceException RESOURCE_EXHAUSTED when the queue is full
   */
  public void refuseIfFull() {
    if (policy.priorityQueuePolicies().isEmpty()) {
      if (policy.maxQueueSize() > 0 && queue.size() >= policy.maxQueueSize()) {
        observer.rejected(
            new SchedulerObserver.Rejected(RejectReason.QUEUE_FULL, 1, 0, ticker.nanoTime()));
        // Without the lock: each queued request has a row at least, so its size is a lower bound.
        throw overloaded(queue.size() + 1, 0);
      }
      return;
    }
    // The queue never holds more than fullSize, so reaching it means every bound is full.
    int full = queue.fullSize();
    if (full > 0 && queue.size() >= full) {
      observer.rejected(
          new SchedulerObserver.Rejected(RejectReason.QUEUE_FULL, 1, 0, ticker.nanoTime()));
      throw InferenceException.exhausted(
          "model '"
              + config.name()
              + "' is overloaded: its queue is full at every priority level (max-queue-size "
              + policy.maxQueueSize()
              + " and each priority-queue-policy's); retry later",
          drain.untilServed(queue.size() + 1));
    }
  }

  /**
   * Whether {@code p} is a best-effort request (in the SLO policy's last level) arriving at a queue
   * at least half full: a flood of them would otherwise fill max-queue-size and turn away the
   * requests held to the objective (under the scheduler's lock). Half of the bound its level meets
   * (max-queue-size, over the levels without a policy of their own), counting only the requests
   * that bound counts: a level with its own {@code priority-queue-policy} has a bound of its own.
   */
  private boolean bestEffortOverHalf(PendingRequest p) {
    if (!batching.bestEffortLast() || p.level != queue.bestEffortLevel()) {
      return false;
    }
    int max = queue.policy(p.level).maxQueueSize();
    return max > 0 && queue.countAgainstBound(p.level) >= (max + 1) / 2;
  }

  /**
   * The retry hint ({@link DrainEstimate#inRounds}) of the sequence batcher's refusal of a request
   * that would be served in the {@code rounds}-th round of {@code rowsPerRound} rows; null before
   * the first pass is measured. Any thread.
   */
  @Nullable Duration untilServedInRounds(int rounds, int rowsPerRound) {
    return drain.inRounds(rounds, rowsPerRound);
  }

  /** The refusal of a full queue, its hint for {@code rows} rows to serve first. */
  private InferenceException overloaded(int rows, int level) {
    String full =
        queue.ownPolicy(level)
            ? "its queue of priority level "
                + (level + 1)
                + " is full (priority-queue-policy max-queue-size "
                + queue.policy(level).maxQueueSize()
            : "its queue is full (max-queue-size " + policy.maxQueueSize();
    return InferenceException.exhausted(
        "model '" + config.name() + "' is overloaded: " + full + "); retry later",
        drain.untilServed(rows));
  }

  private int level(RequestOptions options) {
    int levels = policy.levels();
    long priority = options.priority();
    if (policy.priorityLevels() > 0 && priority > policy.priorityLevels()) {
      throw InferenceException.invalid(
          "model '%s': priority %d is outside 1..%d (0 = default)",
          config.name(), priority, policy.priorityLevels());
    }
    if (options.sloClass() == RequestOptions.SloClass.BEST_EFFORT && batching.bestEffortLast()) {
      return queue.bestEffortLevel();
    }
    if (policy.priorityLevels() == 0) {
      return 0;
    }
    long chosen = priority == 0 ? policy.defaultPriorityLevel() : priority;
    return chosen == 0 ? levels - 1 : (int) chosen - 1;
  }

  /** A request's queue timeout under queue policy {@code q} (its level's). */
  private static long timeoutMicros(RequestOptions options, SchedulingConfig.QueuePolicy q) {
    long requested = options.timeoutMicros();
    long dflt = q.defaultTimeoutMicros();
    if (dflt == 0) {
      return requested;
    }
    if (q.allowTimeoutOverride() && requested > 0 && requested < dflt) {
      return requested;
    }
    return dflt;
  }

  /**
   * Arms the expiry task for {@code deadline}, replacing the armed one (which is later); under the
   * lock. A timer that was shut down (the server is stopping) arms nothing: workers still expire
   * overdue requests whenever they plan.
   */
  private void armExpiry(long deadline, long now) {
    long generation = expiryGeneration + 1;
    ScheduledFuture<?> task;
    try {
      task =
          timer.schedule(
              () -> expireOverdue(generation), Math.max(0, deadline - now), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      log.debug("model {}: the deadline timer is shut down", label);
      return;
    }
    if (expiry != null) {
      expiry.cancel(false);
    }
    expiry = task;
    expiryDeadline = deadline;
    expiryGeneration = generation;
  }

  /**
   * The expiry task: applies the timeout action to every overdue request, then arms itself again
   * for the earliest deadline still queued, if any.
   */
  private void expireOverdue(long generation) {
    List<PendingRequest> rejected;
    lock.lock();
    try {
      long now = ticker.nanoTime();
      rejected = queue.expire(now);
      if (generation == expiryGeneration) {
        expiry = null;
        long next = queue.earliestDeadline();
        if (next != Long.MAX_VALUE) {
          armExpiry(next, now);
        }
      }
      wake();
    } finally {
      lock.unlock();
    }
    rejected.forEach(this::finishTimedOut);
  }

  private void finishTimedOut(PendingRequest p) {
    long now = ticker.nanoTime();
    observerOf(p).requestDone(notRun(Outcome.TIMED_OUT, p, now));
    release.complete(
        p,
        () ->
            p.future.completeExceptionally(
                new InferenceException(
                    ErrorCode.DEADLINE_EXCEEDED,
                    String.format(
                        "model '%s': the request timed out after %d us in the queue and was not"
                            + " run",
                        config.name(), (now - p.arrivalNanos) / 1000))));
  }

  /** Where {@code p}'s own events are counted: its caller's counter, or this scheduler's. */
  private SchedulerObserver observerOf(PendingRequest p) {
    SchedulerObserver c = p.counter;
    return c != null ? c : observer;
  }

  /** The event of a request that left without running. */
  private static RequestDone notRun(Outcome outcome, PendingRequest p, long now) {
    long waited = now - p.arrivalNanos;
    return new RequestDone(outcome, p.rows, 0, waited, 0, 0, 0, waited, now, bestEffort(p));
  }

  /** Whether the objective leaves {@code p} out of SLO attainment (its class is best effort). */
  private static boolean bestEffort(PendingRequest p) {
    return p.request.options().sloClass() == RequestOptions.SloClass.BEST_EFFORT;
  }

  private void cancel(PendingRequest p) {
    boolean removed;
    lock.lock();
    try {
      removed = queue.remove(p);
    } finally {
      lock.unlock();
    }
    if (removed) {
      long now = ticker.nanoTime();
      observerOf(p).requestDone(notRun(Outcome.CANCELLED, p, now));
      release.complete(p, () -> {});
    }
  }

  /**
   * A worker's life: plans and runs batches until the scheduler is closed and its queue is empty,
   * then closes its own instance, so that an instance is never closed while a pass runs on it.
   */
  private void work(ModelInstance instance, int index) {
    boolean endedIdle = false;
    try {
      endedIdle = serve(instance, index);
    } finally {
      if (!endedIdle) {
        try {
          instance.close();
        } catch (RuntimeException e) {
          log.warn("model {}: closing a model instance failed", label, e);
        }
      }
    }
  }

  /**
   * Plans and runs batches on worker {@code index}'s instance.
   *
   * @return true when the thread ends because it had nothing to do for {@link #workerIdleNanos}
   *     (the instance stays open for the worker's next thread); false at the close, or when
   *     interrupted (the caller closes the instance)
   */
  private boolean serve(ModelInstance instance, int index) {
    int ranRows = 0;
    long ranNanos = -1;
    long passNanos = -1;
    boolean ran = false;
    // When this thread began to find nothing to do (-1: it has just worked, or just started).
    long idleSince = -1;
    while (true) {
      List<PendingRequest> batch;
      List<PendingRequest> timedOut;
      RequestQueue.@Nullable Dropped dropped = null;
      lock.lock();
      try {
        finishing[index] = false;
        if (ran) {
          passEnded(index);
          batching.finished(index, ranRows, ranNanos, ticker.nanoTime());
          drain.passFinished(ranNanos);
          learnPass(ranRows, passNanos);
          if (ranRows == 1) {
            // A worker's batch of several rows is not counted as contention: the worker's own
            // wake-up delay joins requests that arrived alone (at 4,000 req/s from 16 connections,
            // a third of its passes), and counting those kept lending off at a load where lent
            // passes rarely meet another request. Lent passes that end with requests waiting are
            // what stops lending (c=64); passes of one row bring it back.
            noteContention(false);
          }
          ran = false;
        }
        while (true) {
          long now = ticker.nanoTime();
          timedOut = queue.expire(now);
          if (!timedOut.isEmpty()) {
            batch = List.of();
            break;
          }
          if (lent[index]) {
            // A submitting thread runs a pass on this instance: neither plan nor close it until
            // then, even when interrupted (the interrupt is kept for the next wait).
            parked[index] = true;
            returnWaiters++;
            try {
              wakeUps[index].awaitUninterruptibly();
            } finally {
              returnWaiters--;
              parked[index] = false;
            }
            idleSince = -1;
            continue;
          }
          if (closed && queue.size() == 0) {
            return false;
          }
          RequestQueue.Plan plan = queue.plan(now);
          if (plan.dropped() != null) {
            dropped = plan.dropped();
            batch = List.of();
            break;
          }
          if (plan.ready()) {
            batch = plan.batch();
            executing.addAndGet(batch.size());
            batching.started(index, rows(batch), now);
            idleSince = -1;
            break;
          }
          long wait = plan.waitNanos();
          if (wait < 0 && workerIdleNanos > 0 && queue.size() == 0) {
            // Nothing queued: park until woken, or end this thread once idle long enough.
            if (idleSince < 0) {
              idleSince = now;
            }
            wait = idleSince + workerIdleNanos - now;
            if (wait <= 0) {
              // Under the lock: a wake-up from now on finds no thread and starts one.
              workers[index] = null;
              parked[index] = true;
              return true;
            }
          }
          if (!await(index, wait)) {
            return false;
          }
        }
      } finally {
        lock.unlock();
      }
      timedOut.forEach(this::finishTimedOut);
      if (dropped != null) {
        finishDropped(dropped);
      }
      if (!batch.isEmpty()) {
        List<PendingRequest> prepared = prepare(batch);
        long start = ticker.nanoTime();
        try {
          passNanos = prepared.isEmpty() ? RERUN : run(instance, prepared, true, index);
          // The policy learns how long the worker was held: the pass and the completions.
          ranNanos = passNanos != RERUN ? ticker.nanoTime() - start : -1;
          ranRows = rows(prepared);
          ran = true;
        } finally {
          executing.addAndGet(-batch.size());
        }
      }
    }
  }

  /**
   * Makes the inputs of a batch's deferred requests on this worker; answers (as failed) those whose
   * preparation throws, and returns the others.
   */
  private List<PendingRequest> prepare(List<PendingRequest> batch) {
    List<PendingRequest> ready = batch;
    for (PendingRequest p : batch) {
      Preparation preparation = p.preparation;
      if (preparation == null) {
        continue;
      }
      long start = ticker.nanoTime();
      try {
        RequestValidator.Validated v = preparation.prepare();
        RequestValidator.checkAgainstGraph(config.name(), signature, v.inputs());
        p.inputs = v.inputs();
        p.outputs = v.outputNames();
        p.prepareNanos = ticker.nanoTime() - start;
      } catch (RuntimeException e) {
        InferenceException error =
            e instanceof InferenceException ie
                ? ie
                : InferenceException.internal("preparing the inputs failed: " + e.getMessage(), e);
        long now = ticker.nanoTime();
        p.prepareNanos = now - start;
        observerOf(p).requestDone(notRun(Outcome.failedBy(error), p, now));
        release.complete(p, () -> p.future.completeExceptionally(error));
        ready = new ArrayList<>(ready);
        ready.remove(p);
      }
    }
    return ready;
  }

  /**
   * Parks worker {@code index} until signalled, or for {@code nanos} when not negative, marked as
   * parked meanwhile (its instance may be lent only then); under the lock.
   *
   * @return false when interrupted
   */
  @SuppressWarnings("WaitNotInLoop") // every caller loops, re-checking the queue after it
  private boolean await(int index, long nanos) {
    parked[index] = true;
    try {
      if (nanos < 0) {
        wakeUps[index].await();
      } else {
        wakeUps[index].awaitNanos(nanos);
      }
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } finally {
      parked[index] = false;
    }
  }

  private static int rows(List<PendingRequest> batch) {
    int rows = 0;
    for (PendingRequest p : batch) {
      rows += p.rows;
    }
    return rows;
  }

  /** Answers a request the policy dropped because it can no longer meet its objective. */
  private void finishDropped(RequestQueue.Dropped d) {
    PendingRequest p = d.request();
    long now = ticker.nanoTime();
    observerOf(p)
        .rejected(
            new SchedulerObserver.Rejected(
                RejectReason.SLO, p.rows, now - p.arrivalNanos, now, bestEffort(p)));
    release.complete(
        p,
        // The queue's size is read without the lock: a hint, and a request has a row at least.
        () ->
            p.future.completeExceptionally(
                InferenceException.exhausted(d.reason(), drain.untilServed(queue.size() + 1))));
  }

  /** {@link #run}'s result when the batch was rerun member by member: not one clean pass. */
  private static final long RERUN = -1;

  /** {@link #run}'s result when the pass failed: one pass for the policy, but not a timing. */
  private static final long FAILED = -2;

  /**
   * Runs a batch and answers its requests; with {@code handOut} (a worker's pass) a successful
   * pass's completions go to their requests' executors, one task per executor ({@link
   * PassAnswers}), else they run here (a lone pass on the submitting thread).
   *
   * @return for one successful pass, the CPU time the forward pass took on this thread when it was
   *     timed (a pass of one row, lone passes on; its wall time when that is already under the
   *     limit, which gives the same verdict), else 0; {@link #FAILED} or {@link #RERUN}
   */
  private long run(ModelInstance instance, List<PendingRequest> batch, boolean handOut) {
    return run(instance, batch, handOut, -1);
  }

  /**
   * As above; {@code worker} is the index of the worker running the pass (-1: a lent pass), marked
   * {@link #finishing} before the pass's requests are answered.
   */
  private long run(
      ModelInstance instance, List<PendingRequest> batch, boolean handOut, int worker) {
    long start = ticker.nanoTime();
    int totalRows = 0;
    for (PendingRequest p : batch) {
      totalRows += p.rows;
    }
    long inputNs = 0;
    long inferNs = 0;
    long outputNs = 0;
    long cpuNs;
    List<List<Tensor>> perRequestOutputs;
    List<Tensor> inputs;
    List<String> outputNames;
    List<Tensor> outputs;
    try {
      // compute_input: join the inputs along the batch dimension
      if (batch.size() == 1) {
        inputs = batch.get(0).inputs;
      } else {
        List<List<Tensor>> all = batch.stream().map(p -> p.inputs).toList();
        inputs = new ArrayList<>();
        for (int i = 0; i < all.get(0).size(); i++) {
          inputs.add(BatchAssembler.join(all, i, totalRows, joinBuffers));
        }
      }
      outputNames = outputUnion(batch);
      long t1 = ticker.nanoTime();
      inputNs = t1 - start;
      // compute_infer; a pass of one row is also timed on the thread's CPU clock, to learn from
      boolean learn = inlineLimitNanos > 0 && totalRows == 1;
      int cpuTimed = learn ? cpuTimedPasses : 0;
      long cpu0 = cpuTimed > 0 ? passClock.nanoTime() : 0;
      outputs = instance.execute(inputs, outputNames);
      long t2 = ticker.nanoTime();
      inferNs = t2 - t1;
      // The thread's CPU time in the pass is at most the wall time around it, so a pass shorter
      // than the limit in wall time is short on the CPU clock too, and its wall time is returned
      // (the learner compares it with the limit only: the same verdict). The CPU clock (a system
      // call on Linux: the vDSO does not serve thread CPU clocks) is read only while recent passes
      // were over the limit in wall time; a pass over it with no CPU reading (the first after a
      // quiet stretch) is judged by its wall time, i.e. long, and starts the CPU timing.
      if (!learn) {
        cpuNs = 0;
      } else if (inferNs < inlineLimitNanos) {
        cpuNs = inferNs;
        if (cpuTimed > 0) {
          cpuTimedPasses = cpuTimed - 1;
        }
      } else {
        cpuNs = cpuTimed > 0 ? passClock.nanoTime() - cpu0 : inferNs;
        cpuTimedPasses = CPU_TIMED_PASSES;
      }
      // compute_output: split per request and pick each request's outputs
      try {
        perRequestOutputs = split(batch, outputNames, outputs, totalRows);
      } catch (BatchAssembler.NotBatchAligned e) {
        // The graph's outputs do not follow the batch dimension (its dynamic first dimension
        // means something else): never join requests for it again, and run these one by one.
        log.warn("model {}: {}; dynamic batching turned off for it", label, e.getMessage());
        lock.lock();
        try {
          queue.stopJoining();
        } finally {
          lock.unlock();
        }
        for (PendingRequest p : batch) {
          run(instance, List.of(p), handOut);
        }
        return RERUN;
      }
      outputNs = ticker.nanoTime() - t2;
    } catch (RuntimeException e) {
      if (batch.size() > 1) {
        // Batch isolation: one member's bad data must not fail the others. The failed pass is not
        // counted; each member runs alone and gets its own answer (and its own failure, if any).
        log.debug(
            "model {}: a batch of {} failed ({}); running its members one by one",
            label,
            batch.size(),
            e.toString());
        for (PendingRequest p : batch) {
          run(instance, List.of(p), handOut);
        }
        return RERUN;
      }
      InferenceException error =
          e instanceof InferenceException ie
              ? ie
              : InferenceException.internal("inference failed: " + e.getMessage(), e);
      if (error.code() == ErrorCode.INTERNAL) {
        log.warn("model {}: forward pass failed", label, e);
      }
      long end = ticker.nanoTime();
      for (PendingRequest p : batch) {
        observerOf(p)
            .requestDone(
                new RequestDone(
                    Outcome.failedBy(error),
                    p.rows,
                    totalRows,
                    start - p.statsArrivalNanos(),
                    inputNs,
                    inferNs,
                    0,
                    end - p.statsArrivalNanos(),
                    end,
                    bestEffort(p)));
        release.complete(p, () -> p.future.completeExceptionally(error));
      }
      return FAILED;
    }
    long end = ticker.nanoTime();
    if (worker >= 0 && choice == InstanceChoice.MOST_RECENT && finishing.length > 1) {
      lock.lock();
      try {
        finishing[worker] = true;
      } finally {
        lock.unlock();
      }
    }
    observer.batchDone(
        new SchedulerObserver.BatchDone(totalRows, batch.size(), inputNs, inferNs, outputNs, end));
    // Ordered completions run on whichever thread releases them: not handed out.
    PassAnswers answers = handOut && !release.ordered ? new PassAnswers() : null;
    for (int i = 0; i < batch.size(); i++) {
      PendingRequest p = batch.get(i);
      // Only a request that asked for its timing gets the (small) record: none is made otherwise.
      @Nullable RequestTiming timing =
          p.request.options().timing()
              ? RequestTiming.ofPass(
                  start - p.statsArrivalNanos(),
                  new RequestTiming.Phases(inputNs, inferNs, outputNs),
                  totalRows,
                  p.rows,
                  end - p.statsArrivalNanos())
              : null;
      InferenceResponse response =
          new InferenceResponse(
              config.name(),
              label.substring(label.lastIndexOf("-v") + 2),
              p.request.id(),
              Map.of(),
              perRequestOutputs.get(i),
              timing);
      observerOf(p)
          .requestDone(
              new RequestDone(
                  Outcome.SUCCESS,
                  p.rows,
                  totalRows,
                  start - p.statsArrivalNanos(),
                  inputNs,
                  inferNs,
                  outputNs,
                  end - p.statsArrivalNanos(),
                  end,
                  bestEffort(p)));
      if (answers != null) {
        answers.add(p.answerOn, () -> p.future.complete(response));
      } else {
        release.complete(p, () -> p.future.complete(response));
      }
    }
    if (answers != null) {
      answers.handOut();
    }
    PassListener listener = passListener;
    if (listener != null) {
      try {
        listener.passDone(pass(batch, inputs, outputNames, outputs, totalRows));
      } catch (RuntimeException e) {
        // The pass's requests are answered; a listener's failure must not reach the worker.
        log.warn("model {}: pass listener failed", label, e);
      }
    }
    return cpuNs;
  }

  /** What a {@link PassListener} is told of a successful pass: its tensors and its requests. */
  private static PassListener.Pass pass(
      List<PendingRequest> batch,
      List<Tensor> inputs,
      List<String> outputNames,
      List<Tensor> outputs,
      int totalRows) {
    int[] rows = new int[batch.size()];
    boolean uniform = true;
    for (int i = 0; i < rows.length; i++) {
      PendingRequest p = batch.get(i);
      rows[i] = p.rows;
      // The union holds each request's outputs, so the same count means the same set.
      uniform &= p.outputs.size() == outputNames.size();
    }
    List<List<String>> asked = null;
    if (!uniform) {
      asked = new ArrayList<>(rows.length);
      for (PendingRequest p : batch) {
        asked.add(p.outputs);
      }
    }
    return new PassListener.Pass(inputs, outputNames, outputs, totalRows, rows, asked);
  }

  private static List<String> outputUnion(List<PendingRequest> batch) {
    if (batch.size() == 1) {
      return batch.get(0).outputs;
    }
    Set<String> union = new LinkedHashSet<>();
    for (PendingRequest p : batch) {
      union.addAll(p.outputs);
    }
    return List.copyOf(union);
  }

  private static List<List<Tensor>> split(
      List<PendingRequest> batch, List<String> names, List<Tensor> outputs, int totalRows) {
    if (batch.size() == 1) {
      return List.of(outputs);
    }
    int[] rows = batch.stream().mapToInt(p -> p.rows).toArray();
    Map<String, List<Tensor>> parts = new HashMap<>();
    for (int i = 0; i < names.size(); i++) {
      parts.put(names.get(i), BatchAssembler.split(outputs.get(i), rows, totalRows));
    }
    List<List<Tensor>> out = new ArrayList<>(batch.size());
    for (int r = 0; r < batch.size(); r++) {
      List<Tensor> mine = new ArrayList<>();
      for (String name : batch.get(r).outputs) {
        mine.add(Objects.requireNonNull(parts.get(name), name).get(r));
      }
      out.add(mine);
    }
    return out;
  }

  /** True once every worker has ended and closed its instance (after {@link #close}). */
  public boolean isTerminated() {
    lock.lock();
    try {
      if (!closed) {
        return false;
      }
      for (Thread t : workers) {
        if (t == null || t.isAlive()) {
          return false;
        }
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Workers with a thread now (tests). */
  int workerThreads() {
    lock.lock();
    try {
      int n = 0;
      for (Thread t : workers) {
        n += t != null ? 1 : 0;
      }
      return n;
    } finally {
      lock.unlock();
    }
  }

  /** Worker threads started since the scheduler was made (tests). */
  int threadsStarted() {
    return threadsStarted.get();
  }

  /** {@link #close(Duration)} with a bound of 30 seconds. */
  @Override
  public void close() {
    close(Duration.ofSeconds(30));
  }

  /**
   * The first half of {@link #close}, without the wait: refuses new requests and wakes the workers,
   * which run what is queued, close their instances and end. A caller stopping many models starts
   * them all before waiting for any, so that one slow model does not hold up the others' closes.
   * Idempotent; {@link #close} still waits.
   */
  public void beginClose() {
    lock.lock();
    try {
      closed = true;
      wakeAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Unloads this version, in this order: new requests are refused (UNAVAILABLE); requests already
   * queued and running are run and answered as usual (their futures complete, so the transports can
   * write their responses whole); each worker then closes its own instance. An instance is never
   * closed while a pass runs on it.
   *
   * <p>When {@code timeout} passes first, requests still queued are answered UNAVAILABLE, and an
   * instance whose pass is still running stays open until that pass ends (its worker closes it
   * then); the method returns false. Safe to call more than once.
   *
   * @return true when every request was answered and every instance closed in time
   */
  public boolean close(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    beginClose();
    List<Thread> closing = new ArrayList<>();
    lock.lock();
    try {
      // After beginClose no worker ends idle, and each one without a thread has been given one.
      for (Thread t : workers) {
        if (t != null) {
          closing.add(t);
        }
      }
    } finally {
      lock.unlock();
    }
    boolean clean = closing.size() == workers.length;
    for (Thread t : closing) {
      try {
        long left = deadline - System.nanoTime();
        if (left > 0) {
          t.join(Duration.ofNanos(left));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      clean &= !t.isAlive();
    }
    List<PendingRequest> left;
    lock.lock();
    try {
      left = queue.drain();
      if (expiry != null) {
        // Nothing is queued any more: no deadline to enforce.
        expiry.cancel(false);
        expiry = null;
        expiryGeneration++;
      }
    } finally {
      lock.unlock();
    }
    for (PendingRequest p : left) {
      p.future.completeExceptionally(
          InferenceException.unavailable("model '%s' was unloaded", config.name()));
    }
    if (!clean) {
      log.warn(
          "model {}: a forward pass still runs after {} ms; its instance is closed when it ends",
          label,
          timeout.toMillis());
    }
    return clean;
  }

  /**
   * Completes futures in admission order when preserve-ordering is on; otherwise at once.
   * Thread-safe; completions run outside its lock... except the ordered ones, which run in order on
   * whichever thread releases them.
   */
  static final class OrderedRelease {
    final boolean ordered;
    private final Map<Long, Runnable> waiting = new HashMap<>();
    private long next;

    OrderedRelease(boolean ordered) {
      this.ordered = ordered;
    }

    void complete(PendingRequest p, Runnable completion) {
      if (!ordered) {
        completion.run();
        return;
      }
      List<Runnable> runnable = new ArrayList<>();
      synchronized (this) {
        waiting.put(p.seq, completion);
        Runnable r;
        while ((r = waiting.remove(next)) != null) {
          runnable.add(r);
          next++;
        }
      }
      runnable.forEach(Runnable::run);
    }
  }
}
