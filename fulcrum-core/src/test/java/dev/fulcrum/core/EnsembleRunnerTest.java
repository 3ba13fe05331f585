package dev.fulcrum.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.EnsembleConfig;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestValidator;
import dev.fulcrum.core.repository.FakeRuntime;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import dev.fulcrum.core.scheduler.SchedulerObserver.Outcome;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ensemble runner with the steps' submit in the test's hands: what a nesting too deep, a stack
 * overflow while a step starts and a cancel racing the last step's answer do to a request.
 */
class EnsembleRunnerTest {
  @TempDir Path repo;

  /** ens: IN -> a -> OUT, over the core tests' fake runtime. */
  private ModelRepository load(SchedulerEnvironment env) throws Exception {
    FakeRuntime.writeModel(repo.resolve("a/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
    Files.createDirectories(repo.resolve("ens/1"));
    Files.writeString(
        repo.resolve("ens/config.yaml"),
        """
        platform: ensemble
        max-batch-size: 8
        inputs: [{name: IN, datatype: FP32, dims: [2]}]
        outputs: [{name: OUT, datatype: FP32, dims: [2]}]
        ensemble:
          steps:
            - {model: a, input-map: {x: IN}, output-map: {y: OUT}}
        """);
    ModelRepository r =
        new ModelRepository(
            List.of(repo), List.of(new FakeRuntime()), new ModelConfigResolver(4, 32), env);
    r.loadAll();
    return r;
  }

  private static Tensor fp32(String name, float... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    return Tensor.of(name, DataType.FP32, new long[] {1, values.length}, b.flip());
  }

  private static CompletableFuture<InferenceResponse> submit(
      EnsembleRunner runner, ModelVersion mv, int enclosing) {
    InferenceRequest request =
        new InferenceRequest(
            "ens", "", "id-1", Map.of(), List.of(fp32("IN", 1.5f, -2f)), List.of());
    EnsembleConfig ensemble = Objects.requireNonNull(mv.config().ensemble());
    return runner.submit(
        mv, ensemble, request, RequestValidator.validate(mv.config(), request), enclosing);
  }

  private static void failsInternal(CompletableFuture<InferenceResponse> f, String message) {
    assertThatThrownBy(() -> f.get(30, TimeUnit.SECONDS))
        .cause()
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL);
              assertThat(e.getMessage()).isEqualTo(message);
            });
  }

  @Test
  void aRequestPastTheNestingBoundFailsBeforeItsStepsAndOneAtItRunsThem() throws Exception {
    try (SchedulerEnvironment env = SchedulerEnvironment.system();
        ModelRepository r = load(env)) {
      ModelVersion mv = r.resolve("ens", "");
      List<Integer> nestings = new ArrayList<>();
      EnsembleRunner runner =
          new EnsembleRunner(
              (step, nesting) -> {
                synchronized (nestings) {
                  nestings.add(nesting);
                }
                return CompletableFuture.failedFuture(InferenceException.internal("stop", null));
              });

      failsInternal(
          submit(runner, mv, EnsembleRunner.MAX_NESTING),
          "ensemble 'ens': ensemble nesting exceeds 8 (ensembles whose steps call ensembles, or a"
              + " loop of them)");
      assertThat(nestings).isEmpty();

      failsInternal(
          submit(runner, mv, EnsembleRunner.MAX_NESTING - 1),
          "ensemble 'ens': step 0 (model 'a') failed: stop");
      assertThat(nestings).containsExactly(EnsembleRunner.MAX_NESTING);
      assertThat(mv.statistics().snapshot().fail().count()).isEqualTo(2);
    }
  }

  @Test
  void aStackOverflowWhileAStepStartsFailsTheRequestInsteadOfEscaping() throws Exception {
    try (SchedulerEnvironment env = SchedulerEnvironment.system();
        ModelRepository r = load(env)) {
      ModelVersion mv = r.resolve("ens", "");
      EnsembleRunner runner =
          new EnsembleRunner(
              (step, nesting) -> {
                throw new StackOverflowError();
              });
      failsInternal(
          submit(runner, mv, 0),
          "ensemble 'ens': step 0 (model 'a') failed: the thread's stack overflowed as it started"
              + " (ensembles nested too deep)");
      assertThat(mv.statistics().snapshot().fail().count()).isEqualTo(1);
    }
  }

  /** What the fake step model answers: OUT's step output y, echoing the request's IN. */
  private static InferenceResponse answerOfA() {
    return new InferenceResponse("a", "1", "id-1", Map.of(), List.of(fp32("y", 1.5f, -2f)));
  }

  @Test
  void aCancelBeforeTheAnswerCancelsTheStepAndCountsACancel() throws Exception {
    try (SchedulerEnvironment env = SchedulerEnvironment.system();
        ModelRepository r = load(env)) {
      ModelVersion mv = r.resolve("ens", "");
      CompletableFuture<InferenceResponse> step = new CompletableFuture<>();
      CompletableFuture<InferenceResponse> f = submit(new EnsembleRunner((s, n) -> step), mv, 0);
      assertThat(f.cancel(false)).isTrue();
      assertThat(step.isCancelled()).isTrue();
      assertThat(step.complete(answerOfA())).isFalse();
      assertThat(mv.statistics().snapshot().cancelled()).isEqualTo(1);
      assertThat(mv.statistics().snapshot().success().count()).isZero();
    }
  }

  @Test
  void aCancelAfterTheAnswerWasCountedIsRefusedAndTheClientGetsTheAnswer() throws Exception {
    // the client's cancel lands between the count of the last step's answer and the request's
    // completion: an observer of the ensemble's statistics cancels it as the success is counted
    AtomicReference<CompletableFuture<InferenceResponse>> sent = new AtomicReference<>();
    AtomicReference<Boolean> cancelled = new AtomicReference<>();
    SchedulerEnvironment.ObserverFactory observers =
        (model, version) ->
            !model.equals("ens")
                ? SchedulerObserver.none()
                : new SchedulerObserver() {
                  @Override
                  public void requestDone(RequestDone e) {
                    if (e.outcome() == Outcome.SUCCESS) {
                      cancelled.set(sent.get().cancel(false));
                    }
                  }
                };
    try (SchedulerEnvironment env = SchedulerEnvironment.system(observers);
        ModelRepository r = load(env)) {
      ModelVersion mv = r.resolve("ens", "");
      CompletableFuture<InferenceResponse> step = new CompletableFuture<>();
      CompletableFuture<InferenceResponse> f = submit(new EnsembleRunner((s, n) -> step), mv, 0);
      sent.set(f);
      step.complete(answerOfA());
      InferenceResponse out = f.get(30, TimeUnit.SECONDS);
      assertThat(out.outputs()).extracting(Tensor::name).containsExactly("OUT");
      assertThat(cancelled.get()).isFalse();
      assertThat(mv.statistics().snapshot().success().count()).isEqualTo(1);
      assertThat(mv.statistics().snapshot().cancelled()).isZero();
    }
  }
}
