package dev.fulcrum.core;

import dev.fulcrum.core.config.PipelineConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.OutputDelivery;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.inference.RequestValidator;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.pipeline.ModelStages;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.ModelScheduler;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import dev.fulcrum.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Runs a pipeline model's requests: its steps before the model (never on a transport's event loop:
 * tokenizing a long text takes a while), then the scheduler (queue, dynamic batcher, forward pass),
 * then its steps after the model on the engine thread that completes the request. Each request is
 * prepared alone, so the batcher joins token ids, not text.
 *
 * <p>Where the steps before the model run: a request of a {@code batching: alone} pipeline that
 * finds a worker idle is queued as it came and the worker runs the steps just before its pass
 * ({@link ModelScheduler#submitDeferred}): one hand-off between threads fewer, which at one request
 * at a time costs more than the tokenizing (docs/PERFORMANCE.md, "Text pipelines"). Any other
 * request is prepared on a pre-processing thread, which tokenizes while the workers run passes.
 *
 * <p>Threads: {@code fulcrum-pre-N} daemon threads, as many as cores, with a bounded backlog (a
 * full backlog is answered RESOURCE_EXHAUSTED, as a full queue is); owned by the {@link
 * InferenceService} that made it.
 */
final class PipelineRunner {
  /** Requests waiting for a pre-processing thread before more are refused. */
  private static final int BACKLOG = 4096;

  private final ThreadPoolExecutor executor;

  PipelineRunner(int threads) {
    AtomicInteger n = new AtomicInteger();
    this.executor =
        new ThreadPoolExecutor(
            threads,
            threads,
            30,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(BACKLOG),
            r ->
                Thread.ofPlatform()
                    .name("fulcrum-pre-" + n.getAndIncrement())
                    .daemon(true)
                    .unstarted(r));
    this.executor.allowCoreThreadTimeOut(true);
  }

  /**
   * Runs a validated request through a pipeline model's stages and scheduler. Cancelling the
   * returned future cancels the queued work.
   *
   * @param delivery where the answer's outputs go before the request is counted (a delivery that
   *     throws fails the request, counted as that failure), or null
   */
  CompletableFuture<InferenceResponse> submit(
      ModelVersion mv,
      ModelStages stages,
      InferenceRequest request,
      RequestValidator.Validated v,
      @Nullable OutputDelivery delivery) {
    List<RequestedOutput> outputs =
        request.outputs().isEmpty()
            ? v.outputNames().stream().map(RequestedOutput::named).toList()
            : request.outputs();
    PipelineConfig pipeline = mv.config().pipeline();
    // Counted once, as its client saw it, when it has its answer (RequestTally).
    long admitted = mv.scheduler().nanoTime();
    RequestTally tally =
        new RequestTally(
            mv.observer(),
            v.batchSize(),
            admitted,
            request.options().sloClass() == RequestOptions.SloClass.BEST_EFFORT);
    CompletableFuture<InferenceResponse> answer;
    if (pipeline == null
        || pipeline.batching() != PipelineConfig.Batching.ALONE
        || v.batchSize() <= 1) {
      answer = submitOne(mv, stages, request, v, 0, outputs, tally);
    } else {
      answer = submitRows(mv, stages, request, v, outputs, tally);
    }
    // The caller sees the answer only once it is counted: a dependent registered on `answer`
    // itself could run before the count (CompletableFuture runs the latest first), and a client
    // that asked for the statistics right after its answer missed it.
    CompletableFuture<InferenceResponse> counted = new CompletableFuture<>();
    answer.whenComplete(
        (r, t) -> {
          long now = mv.scheduler().nanoTime();
          if (t != null) {
            tally.finish(t, now);
            counted.completeExceptionally(t);
            return;
          }
          // A request that asked for its timing: its total is the whole pipeline's, from its
          // admission here to its answer after the steps after the model.
          RequestTiming timing = r.timing();
          InferenceResponse out =
              timing == null ? r : r.withTiming(timing.withTotalNanos(now - admitted));
          if (delivery != null) {
            try {
              delivery.deliver(out);
            } catch (RuntimeException e) {
              tally.finish(e, now);
              counted.completeExceptionally(e);
              return;
            }
          }
          tally.finish(null, now);
          counted.complete(out);
        });
    counted.whenComplete(
        (r, t) -> {
          if (t instanceof CancellationException) {
            answer.cancel(false);
          }
        });
    return counted;
  }

  /** A {@code batching: alone} request of many rows: each row its own pass, joined back. */
  private CompletableFuture<InferenceResponse> submitRows(
      ModelVersion mv,
      ModelStages stages,
      InferenceRequest request,
      RequestValidator.Validated v,
      List<RequestedOutput> outputs,
      RequestTally tally) {
    // Each row alone: one sub-request per row, each its own pass; the answers are joined back.
    List<CompletableFuture<InferenceResponse>> parts = new ArrayList<>(v.batchSize());
    for (int i = 0; i < v.batchSize(); i++) {
      List<Tensor> row = new ArrayList<>(v.inputs().size());
      for (Tensor t : v.inputs()) {
        row.add(Rows.row(t, i));
      }
      parts.add(
          submitOne(
              mv,
              stages,
              request,
              new RequestValidator.Validated(row, v.outputNames(), 1),
              i,
              outputs,
              tally));
    }
    CompletableFuture<InferenceResponse> out =
        CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new))
            .thenApply(
                ignored -> {
                  List<InferenceResponse> done =
                      parts.stream().map(CompletableFuture::join).toList();
                  InferenceResponse first = done.get(0);
                  List<Tensor> joined = new ArrayList<>();
                  for (int o = 0; o < first.outputs().size(); o++) {
                    int index = o;
                    joined.add(
                        Rows.concat(done.stream().map(r -> r.outputs().get(index)).toList()));
                  }
                  RequestTiming timing = first.timing();
                  for (int i = 1; i < done.size() && timing != null; i++) {
                    RequestTiming row = done.get(i).timing();
                    timing = row == null ? null : timing.plus(row);
                  }
                  return new InferenceResponse(
                      first.modelName(),
                      first.modelVersion(),
                      first.id(),
                      withTokenCount(first.parameters(), request, tokenCount(done)),
                      joined,
                      timing);
                });
    out.whenComplete(
        (r, t) -> {
          if (t instanceof CancellationException) {
            parts.forEach(p -> p.cancel(false));
          }
        });
    return out;
  }

  private CompletableFuture<InferenceResponse> submitOne(
      ModelVersion mv,
      ModelStages stages,
      InferenceRequest request,
      RequestValidator.Validated v,
      int firstRow,
      List<RequestedOutput> outputs,
      RequestTally tally) {
    PipelineConfig pipeline = mv.config().pipeline();
    if (pipeline != null
        && pipeline.batching() == PipelineConfig.Batching.ALONE
        && mv.scheduler().hasIdleWorker()) {
      return onEngine(mv, stages, request, v, firstRow, outputs, tally);
    }
    CompletableFuture<InferenceResponse> out = new CompletableFuture<>();
    try {
      executor.execute(() -> prepareAndRun(mv, stages, request, v, firstRow, outputs, out, tally));
    } catch (RejectedExecutionException e) {
      tally.rejected(
          new SchedulerObserver.Rejected(
              SchedulerObserver.RejectReason.QUEUE_FULL,
              v.batchSize(),
              0,
              mv.scheduler().nanoTime()));
      out.completeExceptionally(
          InferenceException.exhausted(
              "model '"
                  + mv.name()
                  + "' is overloaded: "
                  + BACKLOG
                  + " requests wait for pre-processing; retry later"));
    }
    return out;
  }

  /**
   * A request that runs alone while a worker is idle: the worker runs the steps before the model
   * itself, just before the pass, so the request is handed from thread to thread once less.
   */
  private static CompletableFuture<InferenceResponse> onEngine(
      ModelVersion mv,
      ModelStages stages,
      InferenceRequest request,
      RequestValidator.Validated v,
      int firstRow,
      List<RequestedOutput> outputs,
      RequestTally tally) {
    OnEngine steps =
        new OnEngine(mv.name(), stages, v, firstRow, outputs, request.options().truncate());
    CompletableFuture<InferenceResponse> engine;
    try {
      engine = mv.scheduler().submitDeferred(request, v.batchSize(), steps, tally);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(asInferenceException(e));
    }
    CompletableFuture<InferenceResponse> out = new CompletableFuture<>();
    finish(mv, stages, request, engine, steps, out);
    return out;
  }

  /**
   * The steps before the model as a worker runs them; the prepared request and the time it took are
   * written by that worker before the request's pass and read after its completion.
   */
  private static final class OnEngine implements ModelScheduler.Preparation, Before {
    private final String model;
    private final ModelStages stages;
    private final RequestValidator.Validated request;
    private final int firstRow;
    private final List<RequestedOutput> outputs;
    private final boolean truncate;
    private ModelStages.@Nullable Prepared prepared;
    private long nanos;

    OnEngine(
        String model,
        ModelStages stages,
        RequestValidator.Validated request,
        int firstRow,
        List<RequestedOutput> outputs,
        boolean truncate) {
      this.model = model;
      this.stages = stages;
      this.request = request;
      this.firstRow = firstRow;
      this.outputs = outputs;
      this.truncate = truncate;
    }

    @Override
    public RequestValidator.Validated prepare() {
      long start = System.nanoTime();
      ModelStages.Prepared p;
      try {
        p = stages.before(request.inputs(), firstRow, outputs, truncate);
      } catch (RuntimeException e) {
        throw refusedBySteps(model, e);
      }
      prepared = p;
      nanos = System.nanoTime() - start;
      return new RequestValidator.Validated(
          p.engineInputs(), p.engineOutputs(), request.batchSize());
    }

    @Override
    public ModelStages.Prepared prepared() {
      return Objects.requireNonNull(prepared, "completed before it was prepared");
    }

    @Override
    public long nanos() {
      return nanos;
    }
  }

  /** The steps before the model as they ran: what the steps after it need, and their time. */
  private interface Before {
    ModelStages.Prepared prepared();

    long nanos();
  }

  private static void prepareAndRun(
      ModelVersion mv,
      ModelStages stages,
      InferenceRequest request,
      RequestValidator.Validated v,
      int firstRow,
      List<RequestedOutput> outputs,
      CompletableFuture<InferenceResponse> out,
      RequestTally tally) {
    if (out.isDone()) {
      return; // cancelled while waiting
    }
    long start = System.nanoTime();
    ModelStages.Prepared prepared;
    CompletableFuture<InferenceResponse> engine;
    try {
      prepared = stages.before(v.inputs(), firstRow, outputs, request.options().truncate());
    } catch (RuntimeException e) {
      out.completeExceptionally(refusedBySteps(mv.name(), e));
      return;
    }
    try {
      engine =
          mv.scheduler()
              .submit(
                  request,
                  new RequestValidator.Validated(
                      prepared.engineInputs(), prepared.engineOutputs(), v.batchSize()),
                  null,
                  tally);
    } catch (RuntimeException e) {
      out.completeExceptionally(asInferenceException(e));
      return;
    }
    long preNanos = System.nanoTime() - start;
    finish(
        mv,
        stages,
        request,
        engine,
        new Before() {
          @Override
          public ModelStages.Prepared prepared() {
            return prepared;
          }

          @Override
          public long nanos() {
            return preNanos;
          }
        },
        out);
  }

  /**
   * Runs the steps after the model on the thread that completes {@code engine} and completes {@code
   * out}; cancelling {@code out} cancels {@code engine}.
   */
  private static void finish(
      ModelVersion mv,
      ModelStages stages,
      InferenceRequest request,
      CompletableFuture<InferenceResponse> engine,
      Before before,
      CompletableFuture<InferenceResponse> out) {
    out.whenComplete(
        (r, t) -> {
          if (t instanceof CancellationException) {
            engine.cancel(false);
          }
        });
    engine.whenComplete(
        (r, t) -> {
          if (t != null) {
            out.completeExceptionally(asInferenceException(t));
            return;
          }
          long postStart = System.nanoTime();
          List<Tensor> result;
          try {
            result = stages.after(before.prepared(), r.outputs());
          } catch (RuntimeException e) {
            out.completeExceptionally(asInferenceException(e));
            return;
          }
          long postNanos = System.nanoTime() - postStart;
          mv.observer().stagesDone(before.nanos(), postNanos);
          RequestTiming timing = r.timing();
          out.complete(
              new InferenceResponse(
                  r.modelName(),
                  r.modelVersion(),
                  r.id(),
                  withTokenCount(r.parameters(), request, before.prepared().tokens()),
                  result,
                  timing == null ? null : timing.withStepsNanos(before.nanos() + postNanos)));
        });
  }

  /**
   * A response's parameters with the request's token count added, when it asked ({@link
   * RequestOptions#tokenCount}) and the steps tokenized.
   */
  private static Map<String, Object> withTokenCount(
      Map<String, Object> parameters, InferenceRequest request, long tokens) {
    if (!request.options().tokenCount() || tokens < 0) {
      return parameters;
    }
    Map<String, Object> out = new HashMap<>(parameters);
    out.put(RequestOptions.TOKEN_COUNT, tokens);
    return out;
  }

  /** The token count of a request run row by row: its rows' counts summed (-1: not counted). */
  private static long tokenCount(List<InferenceResponse> rows) {
    long sum = 0;
    for (InferenceResponse r : rows) {
      if (!(r.parameters().get(RequestOptions.TOKEN_COUNT) instanceof Long n)) {
        return -1;
      }
      sum += n;
    }
    return sum;
  }

  /**
   * An error of the steps before the model as clients read it: a refused input (INVALID_ARGUMENT,
   * naming the input and the row) prefixed with the model, as the validator's messages are.
   */
  private static RuntimeException refusedBySteps(String model, RuntimeException e) {
    if (e instanceof InferenceException ie
        && (ie.code() == ErrorCode.INVALID_ARGUMENT || ie.code() == ErrorCode.TOO_LARGE)) {
      return new InferenceException(ie.code(), "model '" + model + "': " + ie.getMessage(), ie);
    }
    return asInferenceException(e);
  }

  private static RuntimeException asInferenceException(Throwable t) {
    Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    if (cause instanceof InferenceException e) {
      return e;
    }
    if (cause instanceof CancellationException e) {
      return e;
    }
    return InferenceException.internal("pipeline step failed: " + cause.getMessage(), cause);
  }

  void close() {
    executor.shutdownNow();
  }
}
