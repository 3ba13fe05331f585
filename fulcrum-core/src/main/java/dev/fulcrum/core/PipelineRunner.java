package dev.fulcrum.core;

import dev.fulcrum.core.config.PipelineConfig;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestValidator;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.pipeline.ModelStages;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs a pipeline model's requests: its steps before the model on a pre-processing thread (never on
 * a transport's event loop: tokenizing a long text takes a while), then the scheduler (queue,
 * dynamic batcher, forward pass), then its steps after the model on the engine thread that
 * completes the request. Each request is prepared alone, so the batcher joins token ids, not text.
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
   */
  CompletableFuture<InferenceResponse> submit(
      ModelVersion mv, ModelStages stages, InferenceRequest request, RequestValidator.Validated v) {
    List<RequestedOutput> outputs =
        request.outputs().isEmpty()
            ? v.outputNames().stream().map(RequestedOutput::named).toList()
            : request.outputs();
    PipelineConfig pipeline = mv.config().pipeline();
    if (pipeline == null
        || pipeline.batching() != PipelineConfig.Batching.ALONE
        || v.batchSize() <= 1) {
      return submitOne(mv, stages, request, v, outputs);
    }
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
              outputs));
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
                  return new InferenceResponse(
                      first.modelName(),
                      first.modelVersion(),
                      first.id(),
                      first.parameters(),
                      joined);
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
      List<RequestedOutput> outputs) {
    CompletableFuture<InferenceResponse> out = new CompletableFuture<>();
    try {
      executor.execute(() -> prepareAndRun(mv, stages, request, v, outputs, out));
    } catch (RejectedExecutionException e) {
      mv.scheduler().countRefusedUpstream(1);
      out.completeExceptionally(
          new InferenceException(
              ErrorCode.RESOURCE_EXHAUSTED,
              "model '"
                  + mv.name()
                  + "' is overloaded: "
                  + BACKLOG
                  + " requests wait for pre-processing; retry later"));
    }
    return out;
  }

  private static void prepareAndRun(
      ModelVersion mv,
      ModelStages stages,
      InferenceRequest request,
      RequestValidator.Validated v,
      List<RequestedOutput> outputs,
      CompletableFuture<InferenceResponse> out) {
    if (out.isDone()) {
      return; // cancelled while waiting
    }
    long start = System.nanoTime();
    ModelStages.Prepared prepared;
    CompletableFuture<InferenceResponse> engine;
    try {
      prepared = stages.before(v.inputs(), outputs);
      engine =
          mv.scheduler()
              .submit(
                  request,
                  new RequestValidator.Validated(
                      prepared.engineInputs(), prepared.engineOutputs(), v.batchSize()));
    } catch (RuntimeException e) {
      out.completeExceptionally(asInferenceException(e));
      return;
    }
    long preNanos = System.nanoTime() - start;
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
            result = stages.after(prepared, r.outputs());
          } catch (RuntimeException e) {
            out.completeExceptionally(asInferenceException(e));
            return;
          }
          mv.observer().stagesDone(preNanos, System.nanoTime() - postStart);
          out.complete(
              new InferenceResponse(
                  r.modelName(), r.modelVersion(), r.id(), r.parameters(), result));
        });
  }

  private static Throwable asInferenceException(Throwable t) {
    Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    if (cause instanceof InferenceException || cause instanceof CancellationException) {
      return cause;
    }
    return InferenceException.internal("pipeline step failed: " + cause.getMessage(), cause);
  }

  void close() {
    executor.shutdownNow();
  }
}
