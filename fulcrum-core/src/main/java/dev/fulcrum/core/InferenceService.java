package dev.fulcrum.core;

import dev.fulcrum.core.config.EnsembleConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.ClassLabels;
import dev.fulcrum.core.inference.Classification;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.OutputDelivery;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.inference.RequestValidator;
import dev.fulcrum.core.monitor.ModelMonitor;
import dev.fulcrum.core.pipeline.ModelStages;
import dev.fulcrum.core.repository.LifecycleEvent;
import dev.fulcrum.core.repository.LoadRequestBody;
import dev.fulcrum.core.repository.ModelManager;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.repository.ResponseCache;
import dev.fulcrum.core.repository.Rollout;
import dev.fulcrum.core.scheduler.ModelScheduler;
import dev.fulcrum.core.scheduler.SequenceBatcher;
import dev.fulcrum.core.tenant.Admission;
import dev.fulcrum.core.tenant.Tenant;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The one entry point every transport uses: resolve the model, validate the request, answer it from
 * the version's response cache or hand it (through a pipeline model's stages) to the model's
 * instances, and complete a future with the response. Never blocks the calling thread (a
 * transport's event loop); the future completes on an engine thread, or on the executor the
 * transport named for the answer (its event loop), or on the calling thread after a lone pass.
 * Thread-safe.
 */
public final class InferenceService {
  private final ModelRepository repository;
  private final boolean strictReadiness;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final InFlight responses = new InFlight();
  private final Object idle = new Object();
  private final @Nullable ModelMonitor monitor;
  private final PipelineRunner pipelines =
      new PipelineRunner(Runtime.getRuntime().availableProcessors());
  private final EnsembleRunner ensembles = new EnsembleRunner(this::step);
  private final boolean timingAlways;
  private volatile boolean leaving; // readiness false, HTTP/1.1 answers end their connection
  private volatile boolean draining; // and new requests are refused
  private volatile CompletableFuture<?> endpointsUp = CompletableFuture.completedFuture(null);

  /**
   * @param strictReadiness when true (Triton's default) the server is ready only when every model
   *     version is ready; otherwise when loading has finished
   */
  public InferenceService(ModelRepository repository, boolean strictReadiness) {
    this(repository, strictReadiness, null);
  }

  /**
   * @param monitor told of every successful request (on the thread that completes its future; see
   *     {@link ModelMonitor}), or null for none
   */
  public InferenceService(
      ModelRepository repository, boolean strictReadiness, @Nullable ModelMonitor monitor) {
    this(repository, strictReadiness, monitor, false);
  }

  /**
   * @param timingAlways every request is timed as if it asked ({@code timing: true}): its answer
   *     carries its {@link dev.fulcrum.core.inference.RequestTiming} ({@code fulcrum serve
   *     --request-timing-always}); false: only requests that ask
   */
  public InferenceService(
      ModelRepository repository,
      boolean strictReadiness,
      @Nullable ModelMonitor monitor,
      boolean timingAlways) {
    this.repository = repository;
    this.strictReadiness = strictReadiness;
    this.monitor = monitor;
    this.timingAlways = timingAlways;
    if (monitor != null) {
      repository
          .manager()
          .addListener(
              e -> {
                if (e instanceof LifecycleEvent.StateChanged c && c.to() == ModelState.UNLOADED) {
                  ModelVersion successor = null;
                  for (ModelVersion v : repository.versions(c.model())) {
                    if (v.version() == c.version() && v.isReady()) {
                      successor = v;
                    }
                  }
                  monitor.unloaded(c.model(), c.version(), successor);
                }
              });
    }
  }

  /**
   * Whether every answer carries its request's timing ({@code --request-timing-always}), so that a
   * transport that times a request for itself (the slow-request log, a traced request) knows
   * whether to show it.
   */
  public boolean timingAlways() {
    return timingAlways;
  }

  /** The skew and drift monitor, or null when the server runs none. */
  public @Nullable ModelMonitor monitor() {
    return monitor;
  }

  /** The read-only view of the models (metadata, configuration, statistics, index). */
  public ModelRepository repository() {
    return repository;
  }

  /**
   * Resolves a model version for a request about to be decoded, and refuses the request at once
   * when the server is draining or the version's queue is full now, so that overload costs a
   * transport as little as possible (no body decoded, no tensors copied). A shortcut only: {@link
   * #infer} still admits atomically and may refuse a request that passed here.
   *
   * @throws InferenceException NOT_FOUND or UNAVAILABLE for an unknown or unready model,
   *     UNAVAILABLE while draining, RESOURCE_EXHAUSTED (counted as a rejection) when full
   */
  public ModelVersion admissionCheck(String model, String version) {
    if (draining) {
      throw InferenceException.unavailable("the server is shutting down");
    }
    ModelVersion mv = repository.route(model, version);
    mv.scheduler().refuseIfFull();
    return mv;
  }

  /** Runs a request. Failures complete the future with an {@link InferenceException}. */
  public CompletableFuture<InferenceResponse> infer(InferenceRequest request) {
    return infer(request, null);
  }

  /**
   * As {@link #infer(InferenceRequest)}, for a request its tenant's limits admitted at its headers
   * ({@link #admitEarly}; null: none did), which ends that admission once, whatever happens.
   */
  public CompletableFuture<InferenceResponse> infer(
      InferenceRequest request, @Nullable Admission early) {
    ModelVersion mv;
    try {
      mv = repository.route(request.modelName(), request.modelVersion());
    } catch (InferenceException e) {
      if (early != null) {
        early.failed(e);
      } else {
        failedBeforeAdmission(request.tenant(), request.modelName(), e);
      }
      return CompletableFuture.failedFuture(e);
    }
    return infer(mv, request, null, early, null);
  }

  /**
   * Admits a tenant's request against its limits as soon as the transport knows its tenant, at the
   * request's headers, before its body is read or decoded: a request over the tenant's rate or
   * concurrency costs the server no body. Only those two limits are judged here (one rate token and
   * one permit per request, whatever its rows); the queue, the model and the body are judged later,
   * as for any request. The admission must reach {@link #infer(ModelVersion, InferenceRequest,
   * Executor, Admission, OutputDelivery)}, or be ended by the transport ({@link Admission#failed})
   * where the request fails before it.
   *
   * @param model the model the request names before its body (a REST path), "" where its headers do
   *     not name one (gRPC, the OpenAI API); one the server does not serve is counted as ""
   * @throws InferenceException RESOURCE_EXHAUSTED with a retry hint, counted as the tenant's
   *     refusal
   */
  public Admission admitEarly(Tenant tenant, String model) {
    return tenant.enter(model.isEmpty() || repository.versions(model).isEmpty() ? "" : model);
  }

  /**
   * Counts, for its tenant, a request that failed before {@link #infer} admitted it (a transport's
   * {@link #admissionCheck} refused it, or its body did not decode). A model the server does not
   * serve is counted under the model {@code ""}, so that a client cannot add label values by naming
   * models. Nothing when {@code tenant} is null.
   */
  public void failedBeforeAdmission(@Nullable Tenant tenant, String model, Throwable failure) {
    if (tenant != null) {
      tenant.failedBeforeAdmission(repository.versions(model).isEmpty() ? "" : model, failure);
    }
  }

  /**
   * Ends, as {@link #failedBeforeAdmission(Tenant, String, Throwable)} counts, a request its
   * tenant's limits admitted at its headers ({@link #admitEarly}) that failed before {@link #infer}
   * ran it: under the model its body named (a model the server does not serve: {@code ""}), its
   * place given back; nothing if it had ended.
   */
  public void failedBeforeAdmission(Admission early, String model, Throwable failure) {
    early.finished(repository.versions(model).isEmpty() ? "" : model, null, failure);
  }

  /**
   * Runs a request on the version {@link #admissionCheck} resolved for it (the one admission step:
   * the version is not resolved again). If that version was swapped out in between (it is draining
   * after a new version or configuration took over), the request goes to what serves now, so that a
   * swap fails no request; one pinned to a version that is no longer served gets UNAVAILABLE.
   *
   * <p>When a worker's pass answers the request, the returned future is completed by a task on
   * {@code answerOn} (the transport's thread that writes the answer: its event loop), which the
   * scheduler hands each pass's answers to in one task ({@link
   * ModelScheduler#submit(InferenceRequest, RequestValidator.Validated, Executor)}); null, or a
   * pipeline model's request: completed on the engine thread.
   *
   * <p>A request its tenant's limits admitted at its headers ({@link #admitEarly}; {@code early},
   * null: none did, and the request's tenant, if any, is admitted here) is not admitted again, and
   * that admission is ended once, when the request completes, whatever happens (also when this
   * refuses it).
   *
   * <p>The answer is handed to {@code delivery} (null: none) before the request is counted: a
   * delivery that throws fails the request, and it is counted as failed (its model's statistics and
   * metrics, its tenant's usage), never as a success, whatever answered it: a plain model, a
   * sequence, an ensemble, a pipeline or the response cache.
   */
  public CompletableFuture<InferenceResponse> infer(
      ModelVersion admitted,
      InferenceRequest asked,
      @Nullable Executor answerOn,
      @Nullable Admission early,
      @Nullable OutputDelivery delivery) {
    // A tenant's request is timed and priced for its chargeback (its answer shows the timing only
    // when asked: the transport takes it off); a request of no tenant pays nothing for this.
    Tenant tenant = early != null ? early.tenant() : asked.tenant();
    InferenceRequest request =
        (timingAlways || tenant != null) && !asked.options().costUsd()
            ? asked.withOptions(asked.options().withTiming())
            : asked;
    if (draining) {
      InferenceException leaving = InferenceException.unavailable("the server is shutting down");
      if (early != null) {
        early.finished(admitted.config().name(), null, leaving);
      }
      return CompletableFuture.failedFuture(leaving);
    }
    if (tenant != null && early == null) {
      // The tenant's own limits, before the request is queued: a refusal costs no queue slot.
      InferenceException over = tenant.admit(admitted.config().name());
      if (over != null) {
        return CompletableFuture.failedFuture(over);
      }
    }
    inFlight.incrementAndGet();
    long start = monitor == null ? 0 : System.nanoTime();
    // A canary rollout's split request: timed for its judgement (one branch when there is none).
    Rollout split = admitted.rollout();
    long splitStart = split == null ? 0 : split.now();
    // With a monitor: whether the request was answered from the response cache (not by a pass).
    boolean @Nullable [] hit = monitor == null ? null : new boolean[1];
    ModelVersion mv = admitted;
    boolean inPass = false;
    CompletableFuture<InferenceResponse> result;
    try {
      if (!mv.isReady()) {
        mv = repository.route(request.modelName(), request.modelVersion());
      }
      // Decided before the submit, so that the pass that runs the request sees the listener.
      inPass = monitor != null && passListened(monitor, mv);
      result = submit(mv, request, hit, answerOn, 0, delivery);
      if (result.isCompletedExceptionally() && !mv.isReady()) {
        // Closed between the check and the submit: the swap has published its successor.
        mv = repository.route(request.modelName(), request.modelVersion());
        inPass = monitor != null && passListened(monitor, mv);
        result = submit(mv, request, hit, answerOn, 0, delivery);
      }
    } catch (InferenceException e) {
      result = CompletableFuture.failedFuture(e);
    } catch (RuntimeException e) {
      result =
          CompletableFuture.failedFuture(
              InferenceException.internal("request failed: " + e.getMessage(), e));
    }
    if (request.options().costUsd()) {
      // Only a timing someone reads the cost of (the client's, a span's) gets it: one timed only
      // for the slow-request log skips this stage and its allocations.
      result = cancelling(result.thenApply(priced(mv)), result);
    }
    if (split != null && request.modelVersion().isEmpty()) {
      judged(split, mv.version(), splitStart, result);
    }
    if (tenant != null) {
      // Counted, and its place given back, before the transport sees the answer: a client that
      // sends its next request on an answer finds its place free, and a poller that reads the
      // usage after an answer finds it counted.
      String model = mv.config().name();
      CompletableFuture<InferenceResponse> ran = result;
      result =
          cancelling(
              ran.whenComplete(
                  early != null
                      ? (r, t) -> early.finished(model, TenantCharges.of(r), t)
                      : (r, t) -> tenant.finished(model, TenantCharges.of(r), t)),
              ran);
    }
    // The transport may cancel the returned future (client gone): that cancels the queued work.
    ModelMonitor m = monitor;
    if (m == null) {
      result.whenComplete((r, t) -> finished());
    } else {
      ModelVersion ran = mv;
      boolean ranInPass = inPass && hit != null && !hit[0];
      result.whenComplete(
          (r, t) -> {
            finished();
            if (r != null) {
              m.completed(ran, request, r, System.nanoTime() - start, ranInPass);
            }
          });
    }
    return result;
  }

  /** Counts a split request's outcome in its rollout when it completes (see {@link Rollout}). */
  private static void judged(
      Rollout rollout, long version, long start, CompletableFuture<InferenceResponse> result) {
    result.whenComplete((r, t) -> rollout.record(version, rollout.now() - start, t));
  }

  /**
   * Adds a response's cost to its timing: its rows times the version's cost per prediction now
   * (after the request was counted in the version's accounting, so the figure is never of an empty
   * window). An ensemble's cost is its steps', each priced by its own model as it answered.
   */
  private static Function<InferenceResponse, InferenceResponse> priced(ModelVersion mv) {
    return r -> {
      RequestTiming t = r.timing();
      return t == null || mv.config().ensemble() != null
          ? r
          : r.withTiming(t.withCostPerPrediction(mv.costPerPredictionUsd()));
    };
  }

  /**
   * Whether the monitor is told of the passes of {@code mv}'s scheduler, asking it the first time.
   * Called before the request is submitted, so a true answer means the pass that runs it tells the
   * listener; the decision is made once (synchronized on the scheduler) and every request reads the
   * same one, so a false answer means no pass of the version is ever told: a request's rows are
   * compared once, by its pass or by itself. A pipeline version's passes hold its steps' tensors
   * (token ids, the model's output), which is what its {@code monitoring.text} names.
   */
  private static boolean passListened(ModelMonitor m, ModelVersion mv) {
    ModelScheduler s = mv.scheduler();
    return s.passListenerUndecided() ? s.passListener(m.passListener(mv)) : s.passListener(null);
  }

  /**
   * Validates a request and answers it from the cache or runs it.
   *
   * @param nesting how many ensembles the request runs in: 0 for a client's, a step's nesting for
   *     an ensemble's step ({@link EnsembleRunner#MAX_NESTING})
   * @param delivery where the answer's outputs go before the request is counted, or null
   */
  private CompletableFuture<InferenceResponse> submit(
      ModelVersion mv,
      InferenceRequest request,
      boolean @Nullable [] hitOut,
      @Nullable Executor answerOn,
      int nesting,
      @Nullable OutputDelivery delivery) {
    RequestValidator.Validated v;
    try {
      v = RequestValidator.validate(mv.config(), request);
    } catch (InferenceException e) {
      if (e.code() == ErrorCode.INVALID_ARGUMENT) {
        mv.scheduler().countInvalid(1, null);
      }
      throw e;
    }
    ResponseCache cache = mv.responseCache();
    if (cache == null) {
      return run(mv, request, v, answerOn, nesting, delivery);
    }
    long start = System.nanoTime();
    ResponseCache.Key key = cache.key(v.inputs(), request.outputs(), v.outputNames());
    InferenceResponse hit = cache.get(key, request.id());
    long lookupNanos = System.nanoTime() - start;
    if (hit == null) {
      mv.observer().cacheLookup(false, v.batchSize(), lookupNanos);
    } else {
      if (hitOut != null) {
        hitOut[0] = true;
      }
      if (request.options().timing()) {
        hit = hit.withTiming(RequestTiming.ofCacheHit(v.batchSize(), lookupNanos));
      }
      if (delivery != null) {
        try {
          delivery.deliver(hit);
        } catch (RuntimeException e) {
          // not delivered: counted as the failure its client gets, not as a hit answered
          long now = mv.scheduler().nanoTime();
          new RequestTally(mv.observer(), v.batchSize(), now - lookupNanos, bestEffort(request))
              .finish(e, now);
          throw e;
        }
      }
      mv.observer().cacheLookup(true, v.batchSize(), lookupNanos);
      return CompletableFuture.completedFuture(hit);
    }
    // The caller's future completes only after the answer is cached, so a repeat sent as soon as
    // the first answer arrives is a hit; a cancelled caller still cancels the queued work.
    CompletableFuture<InferenceResponse> result = run(mv, request, v, answerOn, nesting, delivery);
    CompletableFuture<InferenceResponse> answered = new CompletableFuture<>();
    result.whenComplete(
        (r, t) -> {
          if (t != null) {
            answered.completeExceptionally(t);
            return;
          }
          cache.put(key, r);
          answered.complete(r);
        });
    return cancelling(answered, result);
  }

  /**
   * A plain model's answer with the outputs its request asked classification of replaced by their
   * top k (a pipeline's stages do this themselves), on the thread that completes the pass's answer;
   * cancelling the result cancels the queued request.
   */
  private static CompletableFuture<InferenceResponse> classified(
      ModelVersion mv, InferenceRequest request, CompletableFuture<InferenceResponse> ran) {
    boolean batching = mv.config().batching();
    ClassLabels labels = mv.labels();
    return cancelling(ran.thenApply(r -> Classification.apply(request, r, batching, labels)), ran);
  }

  /**
   * {@code derived}, which cancels {@code source} when it is cancelled (a transport cancels the
   * future it was given when its client leaves; the queued work is the source's).
   */
  private static <T> CompletableFuture<T> cancelling(
      CompletableFuture<T> derived, CompletableFuture<?> source) {
    derived.whenComplete(
        (r, t) -> {
          if (t instanceof CancellationException) {
            source.cancel(false);
          }
        });
    return derived;
  }

  /**
   * One step of an ensemble: a request to its model as a transport's is run (resolved now, so that
   * a step meets the version that serves when it starts), not counted again in {@link #inFlight}
   * (its ensemble request is) and not refused by a drain that began after its ensemble request was
   * admitted. Failures complete the future.
   *
   * @param nesting how many ensembles the step runs in, its own included
   */
  private CompletableFuture<InferenceResponse> step(InferenceRequest request, int nesting) {
    try {
      ModelVersion mv = repository.route(request.modelName(), request.modelVersion());
      Rollout split = request.modelVersion().isEmpty() ? mv.rollout() : null;
      long start = split == null ? 0 : split.now();
      CompletableFuture<InferenceResponse> ran = submit(mv, request, null, null, nesting, null);
      if (split != null) {
        judged(split, mv.version(), start, ran);
      }
      // priced as a client's request is, by the model that ran it (the ensemble's cost adds these)
      return request.options().costUsd() ? cancelling(ran.thenApply(priced(mv)), ran) : ran;
    } catch (InferenceException e) {
      return CompletableFuture.failedFuture(e);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(
          InferenceException.internal("request failed: " + e.getMessage(), e));
    }
  }

  /**
   * Queues a validated request; a pipeline model's request goes through its stages first, an
   * ensemble's through its steps.
   */
  private CompletableFuture<InferenceResponse> run(
      ModelVersion mv,
      InferenceRequest request,
      RequestValidator.Validated v,
      @Nullable Executor answerOn,
      int nesting,
      @Nullable OutputDelivery delivery) {
    EnsembleConfig ensemble = mv.config().ensemble();
    if (ensemble != null) {
      if (delivery != null) {
        // classified and delivered before the ensemble counts the request
        return ensembles.submit(
            mv,
            ensemble,
            request,
            v,
            nesting,
            r -> {
              InferenceResponse answer =
                  Classification.anyRequested(request)
                      ? Classification.apply(request, r, mv.config().batching(), mv.labels())
                      : r;
              delivery.deliver(answer);
              return answer;
            });
      }
      CompletableFuture<InferenceResponse> ran =
          ensembles.submit(mv, ensemble, request, v, nesting, null);
      return Classification.anyRequested(request) ? classified(mv, request, ran) : ran;
    }
    ModelStages stages = mv.stages();
    if (stages == null) {
      if (delivery != null) {
        return deliveredAndCounted(mv, request, v, answerOn, delivery);
      }
      SequenceBatcher sequences = mv.sequences();
      CompletableFuture<InferenceResponse> ran =
          sequences == null
              ? mv.scheduler().submit(request, v, answerOn)
              : sequences.submit(request, v, answerOn);
      return Classification.anyRequested(request) ? classified(mv, request, ran) : ran;
    }
    CompletableFuture<InferenceResponse> staged =
        pipelines.submit(mv, stages, request, v, delivery);
    // Prepared off the event loop, a request can meet its version closed by a swap; as in infer,
    // an unpinned one then goes to what serves now.
    CompletableFuture<InferenceResponse> result =
        staged.exceptionallyCompose(
            t -> {
              Throwable cause =
                  t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
              if (cause instanceof InferenceException e
                  && e.code() == ErrorCode.UNAVAILABLE
                  && !mv.isReady()
                  && !draining
                  && request.modelVersion().isEmpty()) {
                return submit(
                    repository.route(request.modelName(), ""),
                    request,
                    null,
                    null,
                    nesting,
                    delivery);
              }
              return CompletableFuture.failedFuture(cause);
            });
    return cancelling(result, staged);
  }

  /**
   * A plain or sequence model's request whose answer goes to {@code delivery} before it is counted:
   * the scheduler (and the sequence batcher in front of it) hands its events to a {@link
   * RequestTally}, which counts it once delivered, as the failure its client gets if the delivery
   * fails.
   */
  private static CompletableFuture<InferenceResponse> deliveredAndCounted(
      ModelVersion mv,
      InferenceRequest request,
      RequestValidator.Validated v,
      @Nullable Executor answerOn,
      OutputDelivery delivery) {
    ModelScheduler scheduler = mv.scheduler();
    SequenceBatcher sequences = mv.sequences();
    RequestTally tally =
        new RequestTally(mv.observer(), v.batchSize(), scheduler.nanoTime(), bestEffort(request));
    CompletableFuture<InferenceResponse> ran;
    try {
      ran =
          sequences == null
              ? scheduler.submit(request, v, answerOn, tally)
              : sequences.submit(request, v, answerOn, tally);
    } catch (RuntimeException e) {
      tally.finish(e, scheduler.nanoTime());
      throw e;
    }
    CompletableFuture<InferenceResponse> answer =
        Classification.anyRequested(request) ? classified(mv, request, ran) : ran;
    // The caller sees the answer only once it is counted (as PipelineRunner's): a client that
    // reads the statistics right after its answer finds it there.
    CompletableFuture<InferenceResponse> counted = new CompletableFuture<>();
    answer.whenComplete(
        (r, t) -> {
          Throwable failed = t;
          if (failed == null) {
            try {
              delivery.deliver(r);
            } catch (RuntimeException e) {
              failed = e;
            }
          }
          tally.finish(failed, scheduler.nanoTime());
          if (failed != null) {
            counted.completeExceptionally(failed);
          } else {
            counted.complete(r);
          }
        });
    return cancelling(counted, answer);
  }

  /** Whether {@code request} is outside SLO attainment ({@code slo_class: best_effort}). */
  private static boolean bestEffort(InferenceRequest request) {
    return request.options().sloClass() == RequestOptions.SloClass.BEST_EFFORT;
  }

  /**
   * Loads or reloads a model (Triton's repository load); completes when it serves, or fails with
   * the reason.
   *
   * @param configOverride a configuration in config.yaml's schema (JSON) to use instead of the
   *     model's file, or null
   * @see dev.fulcrum.core.repository.ModelManager#load
   */
  public CompletableFuture<Void> load(String model, @Nullable String configOverride) {
    try {
      ModelManager.checkConfig(configOverride);
    } catch (InferenceException e) {
      return CompletableFuture.failedFuture(e);
    }
    return repository.manager().load(model, configOverride);
  }

  /**
   * Loads or reloads a model as a load request's body asks, read when the load runs (its files
   * decoded straight to disk on a control thread, not on the caller's).
   *
   * @see dev.fulcrum.core.repository.ModelManager#loadRequest(String, LoadRequestBody)
   */
  public CompletableFuture<Void> loadRequest(String model, LoadRequestBody body) {
    return repository.manager().loadRequest(model, body);
  }

  /**
   * The models loaded by name from folders under a root (SageMaker's multi-model endpoint), or null
   * when the server was not started with one.
   */
  public dev.fulcrum.core.repository.@Nullable MountedModels mountedModels() {
    return repository.mounted();
  }

  /** Drains and unloads a model; completes when done. */
  public CompletableFuture<Void> unload(String model) {
    return repository.manager().unload(model);
  }

  private void finished() {
    if (inFlight.decrementAndGet() == 0 && draining) {
      synchronized (idle) {
        idle.notifyAll();
      }
    }
  }

  public boolean isLive() {
    return true;
  }

  /**
   * Server readiness also waits for {@code endpoints} (ports the server opens after the first
   * model, see fulcrum serve): a ready server has every endpoint up, as Triton's clients expect.
   */
  public void readyAfter(CompletableFuture<?> endpoints) {
    this.endpointsUp = endpoints;
  }

  public boolean isReady() {
    if (leaving || repository.isLoading() || !endpointsUp.isDone()) {
      return false;
    }
    return !strictReadiness || repository.allReady();
  }

  /**
   * True when the model (one version, or the version policy's choice when {@code version} is empty)
   * can take a request now; false when it is known but not ready (loading, unloading, failed).
   *
   * @throws InferenceException NOT_FOUND for a model or version the repository does not know
   */
  public boolean isModelReady(String model, String version) {
    try {
      ModelVersion mv = repository.resolve(model, version);
      EnsembleConfig ensemble = mv.config().ensemble();
      if (ensemble != null) {
        // as Triton: an ensemble is ready while every model its steps call is
        for (EnsembleConfig.Step s : ensemble.steps()) {
          try {
            repository.resolve(s.model(), s.versionString());
          } catch (InferenceException e) {
            return false;
          }
        }
      }
      return true;
    } catch (InferenceException e) {
      if (e.code() != ErrorCode.UNAVAILABLE) {
        throw e;
      }
      return false;
    }
  }

  /** The names of the models the repository knows (any state), sorted. */
  public java.util.SortedSet<String> modelNames() {
    java.util.SortedSet<String> names = new java.util.TreeSet<>();
    repository.index().forEach(row -> names.add(row.name()));
    return names;
  }

  public int inFlight() {
    return inFlight.get();
  }

  /**
   * Requests the transports are answering, counted until each response is written to the socket; a
   * graceful shutdown waits for it to be idle (see {@link InFlight}).
   */
  public InFlight responses() {
    return responses;
  }

  /**
   * Announces a shutdown ahead of the drain: readiness turns false and each HTTP/1.1 answer ends
   * its connection, while requests are still served, so that load balancers and clients move to
   * another server before this one refuses anything ({@code fulcrum serve --shutdown-delay-secs}).
   */
  public void announceShutdown() {
    leaving = true;
  }

  /**
   * Stops accepting requests: readiness turns false, new requests are refused, and so are the
   * repository API's loads and unloads; those not answered yet are answered (a running unload
   * excepted: it ends with the requests it drains), so that the drain does not wait for a load.
   */
  public void beginDrain() {
    leaving = true;
    draining = true;
    repository.manager().stopControl();
  }

  /**
   * True once a shutdown is announced or the drain began: readiness is false and connections end
   * after their answer.
   */
  public boolean isLeaving() {
    return leaving;
  }

  public boolean isDraining() {
    return draining;
  }

  /** Waits until in-flight requests finish or the timeout passes; true when none are left. */
  public boolean awaitIdle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (idle) {
      while (inFlight.get() > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        idle.wait(Math.max(1, left / 1_000_000));
      }
    }
    return true;
  }
}
