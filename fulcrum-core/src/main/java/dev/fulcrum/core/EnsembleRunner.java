package dev.fulcrum.core;

import dev.fulcrum.core.config.EnsembleConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.inference.RequestValidator;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import dev.fulcrum.core.scheduler.SchedulerObserver.Outcome;
import dev.fulcrum.core.tensor.Tensor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs an ensemble model's request (Triton's ensemble scheduler): each step, once the ensemble
 * tensors it takes are made, is an ordinary request to its model through {@code steps} (the path a
 * transport's request takes: validation, response cache, the model's queue and batcher), so a
 * composing model batches its ensemble traffic with its direct traffic; steps whose tensors are
 * ready run at once, side by side. Only the steps the requested outputs need run. The first failing
 * step fails the request, naming its model, with the step's status (a 429 stays a 429) and cancels
 * the steps still queued; cancelling the request cancels them too. Every step is timed ({@link
 * RequestTiming}, without its cost unless the request's own timing is priced): the ensemble's own
 * statistics count each request once, as it ends, as Triton's ensemble scheduler does (its queue is
 * the ensemble's own wait before its first step, its compute_input, compute_infer and
 * compute_output its steps' added up, and a success one execution of its rows), and a request that
 * asked for its timing gets each step's under its own. A request runs at most {@link #MAX_NESTING}
 * ensembles deep. Thread-safe: each request's state is guarded by its own lock, and a step's
 * completion may run on any thread.
 */
final class EnsembleRunner {
  private static final Logger log = LoggerFactory.getLogger(EnsembleRunner.class);

  /**
   * How many ensembles deep one request may run: a client's request to an ensemble runs in one, a
   * step of it that calls an ensemble in two, and so on. A request deeper than this fails INTERNAL
   * ("ensemble nesting exceeds 8"): a load refuses a loop of ensembles, and this bounds what a load
   * cannot see (loads that race), since steps start on the stack of the thread that runs the step
   * before them, each ensemble deeper, and a loop would also run forever through queued steps.
   */
  static final int MAX_NESTING = 8;

  /** Submits one step's request to its model, as a transport's request is submitted. */
  @FunctionalInterface
  interface Steps {
    /**
     * @param nesting how many ensembles the step runs in, its own included
     * @return the step's answer; failures complete it (never thrown)
     */
    CompletableFuture<InferenceResponse> submit(InferenceRequest step, int nesting);
  }

  private final Steps steps;

  /**
   * The step bounds of each ensemble version with {@code max_inflight_requests}, made at its first
   * request; weak, so that a version that no longer serves takes its bounds with it (a waiting step
   * holds its request, which holds its version, until it runs).
   */
  private final Map<ModelVersion, StepGates> bounds =
      java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

  EnsembleRunner(Steps steps) {
    this.steps = steps;
  }

  /**
   * Runs a validated request of the ensemble {@code mv}; never blocks.
   *
   * @param enclosing how many ensembles the request runs in already: 0 for a client's, a step's
   *     {@code nesting} for a step's
   * @param finish what makes the ensemble's answer its client's before the request is counted (its
   *     outputs' classification, a transport's delivery of them); one that throws fails the
   *     request, counted as that failure. Null: the answer as the steps made it.
   */
  CompletableFuture<InferenceResponse> submit(
      ModelVersion mv,
      EnsembleConfig ensemble,
      InferenceRequest request,
      RequestValidator.Validated v,
      int enclosing,
      @Nullable UnaryOperator<InferenceResponse> finish) {
    Run run = new Run(mv, ensemble, request, v, enclosing + 1, finish);
    run.start();
    return run.result;
  }

  /** One request's walk through the graph; guarded by itself. */
  private final class Run {
    private final ModelVersion mv;
    private final EnsembleConfig ensemble;
    private final InferenceRequest request;
    private final RequestOptions stepOptions;
    private final List<String> outputs;
    private final int rows;
    private final long start;

    /** How many ensembles this run is in, its own included. */
    private final int nesting;

    /** What makes the answer its client's before it is counted, or null ({@link #submit}). */
    private final @Nullable UnaryOperator<InferenceResponse> finish;

    /** The version's bound on each step's requests in flight; null when it has none. */
    private final @Nullable StepGates gates;

    /**
     * The request's answer. Whoever counts the request's end ({@link #count}) completes it: a
     * cancel (the client went away) cancels it only when it counts the end first, and is refused
     * ({@code false}) once an answer or a failure was counted, which then completes it; so a client
     * never gets CANCELLED for a request the statistics counted otherwise.
     */
    private final CompletableFuture<InferenceResponse> result =
        new CompletableFuture<>() {
          @Override
          public boolean cancel(boolean mayInterruptIfRunning) {
            if (!count(Outcome.CANCELLED)) {
              return false; // ended, or ending: counted already, its completion follows
            }
            boolean cancelled = super.cancel(mayInterruptIfRunning);
            cancelRunning();
            return cancelled;
          }
        };

    /** Whether the request's end was counted in the ensemble's statistics. */
    private final java.util.concurrent.atomic.AtomicBoolean counted =
        new java.util.concurrent.atomic.AtomicBoolean();

    /** The ensemble tensors made so far, by name. */
    private final Map<String, Tensor> tensors = new HashMap<>();

    /** Which steps the requested outputs need, and which of them have started. */
    private final boolean[] needed;

    private final boolean[] started;

    /** When each started step was submitted, on {@link System#nanoTime}. */
    private final long[] startedAt;

    /** Each answered step's timing, by its index; null until it answers. */
    private final RequestTiming.@Nullable EnsembleStep[] answered;

    /** When the first step was submitted (the end of the ensemble's own queue); 0: none yet. */
    private long firstStepAt;

    /** The steps' requests not answered yet, cancelled when the request ends early. */
    private final List<CompletableFuture<InferenceResponse>> running = new ArrayList<>();

    Run(
        ModelVersion mv,
        EnsembleConfig ensemble,
        InferenceRequest request,
        RequestValidator.Validated v,
        int nesting,
        @Nullable UnaryOperator<InferenceResponse> finish) {
      this.mv = mv;
      this.nesting = nesting;
      this.finish = finish;
      this.gates =
          ensemble.maxInflightRequests() > 0
              ? bounds.computeIfAbsent(
                  mv, k -> new StepGates(ensemble.steps().size(), ensemble.maxInflightRequests()))
              : null;
      this.ensemble = ensemble;
      this.request = request;
      RequestOptions o = request.options();
      // The scheduling options carry to every step (priority, queue timeout, SLO class, sequence);
      // every step is timed, for the ensemble's statistics (its compute is the steps'), and priced
      // only when the request's own timing is (the client's, or a span's, shows the cost); the
      // token count describes the ensemble's answer, which has none.
      this.stepOptions =
          new RequestOptions(
              o.priority(),
              o.timeoutMicros(),
              o.sloClass(),
              true,
              false,
              o.costUsd(),
              o.sequence());
      this.outputs = v.outputNames();
      this.rows = v.batchSize();
      this.start = System.nanoTime();
      for (Tensor t : v.inputs()) {
        tensors.put(t.name(), t);
      }
      int n = ensemble.steps().size();
      this.needed = new boolean[n];
      this.started = new boolean[n];
      this.startedAt = new long[n];
      this.answered = new RequestTiming.EnsembleStep[n];
      Map<String, Integer> producers = ensemble.producers();
      Deque<String> wanted = new ArrayDeque<>(outputs);
      while (!wanted.isEmpty()) {
        Integer p = producers.get(wanted.poll());
        if (p != null && !needed[p]) {
          needed[p] = true;
          wanted.addAll(ensemble.steps().get(p).consumes());
        }
      }
    }

    void start() {
      if (nesting > MAX_NESTING) {
        if (count(Outcome.FAILED)) {
          result.completeExceptionally(
              InferenceException.internal(
                  "ensemble '"
                      + mv.name()
                      + "': ensemble nesting exceeds "
                      + MAX_NESTING
                      + " (ensembles whose steps call ensembles, or a loop of them)",
                  null));
        }
        return;
      }
      launch(ready());
    }

    /** The needed steps whose tensors are all made and that have not started; marks them. */
    private synchronized List<Integer> ready() {
      List<Integer> out = new ArrayList<>();
      if (result.isDone()) {
        return out;
      }
      for (int i = 0; i < needed.length; i++) {
        if (needed[i] && !started[i] && tensors.keySet().containsAll(step(i).consumes())) {
          started[i] = true;
          out.add(i);
        }
      }
      return out;
    }

    private EnsembleConfig.Step step(int i) {
      return ensemble.steps().get(i);
    }

    /** Submits the steps' requests, outside the lock (an answer may complete on this thread). */
    private void launch(List<Integer> indexes) {
      for (int i : indexes) {
        if (gates == null) {
          if (!launchOne(i)) {
            return;
          }
        } else {
          // a bounded step waits for room (max_inflight_requests); one that gets it after this
          // request ended gives it back without running
          StepGates g = gates;
          int index = i;
          g.enter(
              i,
              () -> {
                if (result.isDone()) {
                  g.leave(index);
                } else {
                  launchOne(index);
                }
              });
        }
      }
    }

    /**
     * Submits step {@code i}'s request.
     *
     * @return false when this request had ended meanwhile (the step's request is cancelled)
     */
    private boolean launchOne(int i) {
      EnsembleConfig.Step s = step(i);
      List<Tensor> in = new ArrayList<>(s.inputs().size());
      synchronized (this) {
        long now = System.nanoTime();
        startedAt[i] = now;
        if (firstStepAt == 0) {
          firstStepAt = now;
        }
        for (EnsembleConfig.Mapping m : s.inputs()) {
          // made: the step started once all its tensors were
          in.add(
              java.util.Objects.requireNonNull(tensors.get(m.ensembleTensor()))
                  .renamed(m.modelTensor()));
        }
      }
      List<RequestedOutput> asked = new ArrayList<>(s.outputs().size());
      s.outputs().forEach(m -> asked.add(RequestedOutput.named(m.modelTensor())));
      InferenceRequest stepRequest =
          new InferenceRequest(
              s.model(),
              s.versionString(),
              request.id(),
              request.parameters(),
              in,
              asked,
              stepOptions);
      CompletableFuture<InferenceResponse> answer;
      try {
        answer = steps.submit(stepRequest, nesting);
      } catch (RuntimeException e) {
        answer = CompletableFuture.failedFuture(e);
      } catch (StackOverflowError e) {
        // the step started on this thread's stack (nested ensembles, each deeper): this request
        // fails, rather than an Error escaping to the transport's thread; the stack has unwound
        // to here, so failing it has room
        answer =
            CompletableFuture.failedFuture(
                InferenceException.internal(
                    "the thread's stack overflowed as it started (ensembles nested too deep)",
                    null));
      }
      StepGates g = gates;
      if (g != null) {
        answer.whenComplete((r, t) -> g.leave(i)); // however it ends, its room is given back
      }
      synchronized (this) {
        if (!answer.isDone()) {
          running.add(answer);
        }
      }
      if (result.isDone()) {
        answer.cancel(false);
        return false;
      }
      answer.whenComplete((r, t) -> stepDone(i, r, t));
      return true;
    }

    private void stepDone(int i, @Nullable InferenceResponse r, @Nullable Throwable t) {
      EnsembleConfig.Step s = step(i);
      if (t != null || r == null) {
        fail(i, t);
        return;
      }
      List<Integer> next;
      InferenceResponse done = null;
      String missing = null;
      List<RequestTiming.EnsembleStep> timed = List.of();
      long queueNanos = 0;
      synchronized (this) {
        if (result.isDone()) {
          return;
        }
        RequestTiming timing = r.timing();
        if (timing != null) {
          answered[i] =
              new RequestTiming.EnsembleStep(
                  i, s.model(), r.modelVersion(), (startedAt[i] - start) / 1000, timing);
        }
        for (EnsembleConfig.Mapping m : s.outputs()) {
          Tensor out = find(r.outputs(), m.modelTensor());
          if (out == null) {
            // never from a model that answered as asked: a defect, not the client's
            missing = m.modelTensor();
            break;
          }
          tensors.put(m.ensembleTensor(), out.renamed(m.ensembleTensor()));
        }
        next = missing == null ? ready() : List.of();
        boolean complete = true;
        for (String o : outputs) {
          complete &= tensors.containsKey(o);
        }
        if (complete) {
          List<Tensor> answer = new ArrayList<>(outputs.size());
          outputs.forEach(o -> answer.add(java.util.Objects.requireNonNull(tensors.get(o))));
          done =
              new InferenceResponse(mv.name(), mv.versionString(), request.id(), Map.of(), answer);
          timed = new ArrayList<>();
          for (RequestTiming.EnsembleStep e : answered) {
            if (e != null) {
              timed.add(e);
            }
          }
          queueNanos = Math.max(0, firstStepAt - start);
        }
      }
      if (missing != null) {
        fail(i, InferenceException.internal("its answer lacks the output '" + missing + "'", null));
        return;
      }
      if (done != null) {
        long total = System.nanoTime() - start;
        RequestTiming.Phases compute = RequestTiming.Phases.NONE;
        for (RequestTiming.EnsembleStep e : timed) {
          compute = compute.plus(e.timing().phases());
        }
        if (request.options().timing()) {
          done = done.withTiming(RequestTiming.ofEnsemble(Math.max(1, rows), total, timed));
        }
        if (finish != null) {
          try {
            done = finish.apply(done);
          } catch (RuntimeException e) {
            // its outputs could not be delivered: the request fails, and counts as that failure
            if (count(
                e instanceof InferenceException ie && ie.code() == ErrorCode.INVALID_ARGUMENT
                    ? Outcome.INVALID
                    : Outcome.FAILED)) {
              result.completeExceptionally(e);
            }
            return;
          }
        }
        // counted before the caller sees the answer, so that its next read of the statistics
        // shows it (as the scheduler counts a request before it completes it); once counted, a
        // cancel is refused (see result), so the caller gets this answer
        if (count(Outcome.SUCCESS, total, queueNanos, compute)) {
          result.complete(done);
        }
        return;
      }
      launch(next);
    }

    private void fail(int i, @Nullable Throwable t) {
      Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
      if (cause instanceof CancellationException && result.isDone()) {
        return; // cancelled by this run, after it ended
      }
      EnsembleConfig.Step s = step(i);
      String where =
          "ensemble '" + mv.name() + "': step " + i + " (model '" + s.model() + "') failed: ";
      InferenceException e;
      if (cause instanceof InferenceException ie) {
        e =
            switch (ie.code()) {
              case RESOURCE_EXHAUSTED ->
                  InferenceException.exhausted(where + ie.getMessage(), ie.retryAfter());
              // the ensemble is there; a model it calls is not (unloaded, or not loaded yet)
              case NOT_FOUND ->
                  new InferenceException(ErrorCode.UNAVAILABLE, where + ie.getMessage(), ie);
              default -> new InferenceException(ie.code(), where + ie.getMessage(), ie);
            };
      } else if (cause instanceof CancellationException) {
        e = new InferenceException(ErrorCode.CANCELLED, where + "cancelled", cause);
      } else {
        e =
            InferenceException.internal(
                where + (cause == null ? "no answer" : cause.toString()), cause);
      }
      boolean first =
          count(
              switch (e.code()) {
                case INVALID_ARGUMENT -> Outcome.INVALID;
                case DEADLINE_EXCEEDED -> Outcome.TIMED_OUT;
                case CANCELLED -> Outcome.CANCELLED;
                default -> Outcome.FAILED;
              });
      if (first && result.completeExceptionally(e)) {
        cancelRunning();
      }
    }

    private void cancelRunning() {
      List<CompletableFuture<InferenceResponse>> copy;
      synchronized (this) {
        copy = List.copyOf(running);
        running.clear();
      }
      copy.forEach(f -> f.cancel(false));
    }

    /**
     * {@link #count(Outcome, long, long, RequestTiming.Phases)} of a request that did not succeed.
     */
    private boolean count(Outcome outcome) {
      return count(outcome, System.nanoTime() - start, 0, RequestTiming.Phases.NONE);
    }

    /**
     * The ensemble's own statistics: one request, as it ended, with its whole time; only the first
     * call counts (a cancellation racing the last step's answer is counted once), and it decides
     * how the request ends. A success counts, as Triton's ensemble scheduler does, its queue (the
     * ensemble's own wait before its first step), its steps' compute_input, compute_infer and
     * compute_output, each added up, and one execution of its rows.
     *
     * @param queueNanos admission to the first step (0 for a request that did not succeed)
     * @param compute its steps' compute phases added up (none for a request that did not succeed)
     * @return whether this call counted it: the caller then completes the request, and nothing else
     *     does
     */
    private boolean count(
        Outcome outcome, long totalNanos, long queueNanos, RequestTiming.Phases compute) {
      if (!counted.compareAndSet(false, true)) {
        return false;
      }
      int n = Math.max(1, rows);
      if (outcome == Outcome.SUCCESS) {
        mv.statistics()
            .ensembleDone(n, compute.inputNanos(), compute.inferNanos(), compute.outputNanos());
      }
      mv.observer()
          .requestDone(
              new SchedulerObserver.RequestDone(
                  outcome,
                  n,
                  0,
                  queueNanos,
                  compute.inputNanos(),
                  compute.inferNanos(),
                  compute.outputNanos(),
                  totalNanos,
                  mv.scheduler().nanoTime(),
                  request.options().sloClass() == RequestOptions.SloClass.BEST_EFFORT));
      return true;
    }
  }

  /**
   * Triton's {@code max_inflight_requests}: at most {@code max} requests in flight at each step of
   * one ensemble version, over all its requests; a step with no room waits, first come first
   * served, and a step's request that ends (however) hands its room to the next one waiting. A
   * waiting step is started on the thread that gave the room back, after that thread's own work:
   * handing rooms on runs as a loop, not deeper on the stack, however many answers complete at
   * once. Thread-safe: each step's count and queue are guarded by this object.
   */
  static final class StepGates {
    private final int max;
    private final int[] inflight;
    private final List<ArrayDeque<Runnable>> waiting = new ArrayList<>();

    /** Work handed on by a thread that is already running handed-on work: run by its loop. */
    private static final ThreadLocal<@Nullable ArrayDeque<Runnable>> HANDED = new ThreadLocal<>();

    StepGates(int steps, int max) {
      this.max = max;
      this.inflight = new int[steps];
      for (int i = 0; i < steps; i++) {
        waiting.add(new ArrayDeque<>());
      }
    }

    /** Runs {@code start} when step {@code i} has room (now, or when a request of it ends). */
    void enter(int i, Runnable start) {
      synchronized (this) {
        if (inflight[i] >= max) {
          waiting.get(i).add(start);
          return;
        }
        inflight[i]++;
      }
      run(start);
    }

    /** A request of step {@code i} ended: its room goes to the next one waiting, if any. */
    void leave(int i) {
      Runnable next;
      synchronized (this) {
        next = waiting.get(i).poll();
        if (next == null) {
          inflight[i]--;
          return;
        }
      }
      run(next);
    }

    private static void run(Runnable r) {
      ArrayDeque<Runnable> handed = HANDED.get();
      if (handed != null) {
        handed.add(r);
        return;
      }
      ArrayDeque<Runnable> mine = new ArrayDeque<>();
      HANDED.set(mine);
      try {
        for (Runnable next = r; next != null; next = mine.poll()) {
          try {
            next.run();
          } catch (RuntimeException e) {
            // a defect in one step's start: the other requests' steps handed here still start
            log.error("an ensemble step failed to start", e);
          }
        }
      } finally {
        HANDED.remove();
      }
    }
  }

  private static @Nullable Tensor find(List<Tensor> tensors, String name) {
    for (Tensor t : tensors) {
      if (t.name().equals(name)) {
        return t;
      }
    }
    return null;
  }
}
