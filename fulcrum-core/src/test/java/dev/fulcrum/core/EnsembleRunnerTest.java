package dev.fulcrum.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.EnsembleConfig;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.inference.RequestValidator;
import dev.fulcrum.core.repository.EnsembleRepo;
import dev.fulcrum.core.repository.FakeRuntime;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import dev.fulcrum.core.scheduler.SchedulerObserver.Outcome;
import dev.fulcrum.core.stats.ModelStatistics;
import dev.fulcrum.core.tensor.Fp32;
import dev.fulcrum.core.tensor.Tensor;
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
 * overflow while a step starts and a cancel racing the last step's answer do to a request; how a
 * request is counted in the ensemble's statistics and what its timing says of its steps.
 */
class EnsembleRunnerTest {
  @TempDir Path repo;

  /** ens: IN -> a -> OUT, over the core tests' fake runtime. */
  private ModelRepository load(SchedulerEnvironment env) throws Exception {
    return load(env, "");
  }

  /**
   * As {@link #load(SchedulerEnvironment)}, with {@code ensembleFields} in its ensemble section.
   */
  private ModelRepository load(SchedulerEnvironment env, String ensembleFields) throws Exception {
    EnsembleRepo.writeEcho(repo, "a");
    EnsembleRepo.writeEnsemble(
        repo,
        "ens",
        """
        platform: ensemble
        max-batch-size: 8
        inputs: [{name: IN, datatype: FP32, dims: [2]}]
        outputs: [{name: OUT, datatype: FP32, dims: [2]}]
        ensemble:
          %s
          steps:
            - {model: a, input-map: {x: IN}, output-map: {y: OUT}}
        """
            .formatted(ensembleFields));
    ModelRepository r =
        new ModelRepository(
            List.of(repo), List.of(new FakeRuntime()), new ModelConfigResolver(4, 32), env);
    r.loadAll();
    return r;
  }

  private static CompletableFuture<InferenceResponse> submit(
      EnsembleRunner runner, ModelVersion mv, int enclosing) {
    return submit(runner, mv, enclosing, RequestOptions.NONE);
  }

  private static CompletableFuture<InferenceResponse> submit(
      EnsembleRunner runner, ModelVersion mv, int enclosing, RequestOptions options) {
    InferenceRequest request =
        new InferenceRequest(
            "ens", "", "id-1", Map.of(), List.of(Fp32.row("IN", 1.5f, -2f)), List.of(), options);
    EnsembleConfig ensemble = Objects.requireNonNull(mv.config().ensemble());
    return runner.submit(
        mv, ensemble, request, RequestValidator.validate(mv.config(), request), enclosing, null);
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
    return new InferenceResponse("a", "1", "id-1", Map.of(), List.of(Fp32.row("y", 1.5f, -2f)));
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

  /**
   * A's answer timed as its scheduler times a pass: 300 us queued, 900 us computing (20 joining the
   * inputs, 850 in the forward pass, 30 splitting the outputs), 4 rows.
   */
  private static InferenceResponse timedAnswerOfA(double costUsd) {
    RequestTiming pass =
        RequestTiming.ofPass(
            300_000, new RequestTiming.Phases(20_000, 850_000, 30_000), 4, 1, 1_250_000);
    return answerOfA()
        .withTiming(Double.isNaN(costUsd) ? pass : pass.withCostPerPrediction(costUsd));
  }

  /** A runner whose steps all answer {@code answer}, each step's request added to {@code steps}. */
  private static EnsembleRunner answering(List<InferenceRequest> steps, InferenceResponse answer) {
    return new EnsembleRunner(
        (step, nesting) -> {
          steps.add(step);
          return CompletableFuture.completedFuture(answer);
        });
  }

  @Test
  void aSuccessIsCountedAsTritonsEnsembleSchedulerCountsIt() throws Exception {
    try (SchedulerEnvironment env = SchedulerEnvironment.system();
        ModelRepository r = load(env)) {
      ModelVersion mv = r.resolve("ens", "");
      List<InferenceRequest> steps = new ArrayList<>();
      EnsembleRunner runner = answering(steps, timedAnswerOfA(Double.NaN));
      InferenceResponse out = submit(runner, mv, 0).get(30, TimeUnit.SECONDS);
      // the client did not ask: its answer has no timing, although its step was timed (unpriced)
      assertThat(out.timing()).isNull();
      assertThat(steps)
          .singleElement()
          .satisfies(
              s -> {
                assertThat(s.options().timing()).isTrue();
                assertThat(s.options().costUsd()).isFalse();
              });
      ModelStatistics.Snapshot st = mv.statistics().snapshot();
      assertThat(st.success().count()).isEqualTo(1);
      assertThat(st.inferenceCount()).isEqualTo(1);
      assertThat(st.executionCount()).isEqualTo(1);
      assertThat(st.lastInferenceMillis()).isPositive();
      // queue: the ensemble's own wait before its first step; compute: each of the steps'
      // compute phases, added up
      assertThat(st.queue().count()).isEqualTo(1);
      assertThat(st.computeInput()).isEqualTo(new ModelStatistics.Duration(1, 20_000));
      assertThat(st.computeInfer()).isEqualTo(new ModelStatistics.Duration(1, 850_000));
      assertThat(st.computeOutput()).isEqualTo(new ModelStatistics.Duration(1, 30_000));
      assertThat(st.batchStats())
          .singleElement()
          .satisfies(
              b -> {
                assertThat(b.batchSize()).isEqualTo(1);
                assertThat(b.computeInput()).isEqualTo(new ModelStatistics.Duration(1, 20_000));
                assertThat(b.computeInfer()).isEqualTo(new ModelStatistics.Duration(1, 850_000));
                assertThat(b.computeOutput()).isEqualTo(new ModelStatistics.Duration(1, 30_000));
              });
      assertThat(st.success().ns()).isGreaterThanOrEqualTo(st.queue().ns());

      // a failure is no execution
      failsInternal(
          submit(
              new EnsembleRunner(
                  (s, n) ->
                      CompletableFuture.failedFuture(InferenceException.internal("stop", null))),
              mv,
              0),
          "ensemble 'ens': step 0 (model 'a') failed: stop");
      assertThat(mv.statistics().snapshot().executionCount()).isEqualTo(1);
      assertThat(mv.statistics().snapshot().inferenceCount()).isEqualTo(1);
    }
  }

  @Test
  void aRequestThatAsksForItsTimingGetsEachStepsUnderItsOwn() throws Exception {
    try (SchedulerEnvironment env = SchedulerEnvironment.system();
        ModelRepository r = load(env)) {
      ModelVersion mv = r.resolve("ens", "");
      List<InferenceRequest> steps = new ArrayList<>();
      EnsembleRunner runner = answering(steps, timedAnswerOfA(2.5e-7));
      RequestOptions timed =
          new RequestOptions(0, 0, RequestOptions.SloClass.STANDARD, true, false);
      InferenceResponse out = submit(runner, mv, 0, timed).get(30, TimeUnit.SECONDS);
      // the client's timing is priced: so is each step's (by its own model)
      assertThat(steps).singleElement().satisfies(s -> assertThat(s.options().costUsd()).isTrue());
      RequestTiming t = Objects.requireNonNull(out.timing());
      assertThat(t.queueMicros()).isEqualTo(300);
      assertThat(t.computeMicros()).isEqualTo(900);
      assertThat(t.batchRows()).isZero();
      assertThat(t.requestRows()).isEqualTo(1);
      assertThat(t.cacheHit()).isFalse();
      assertThat(t.costUsd()).isEqualTo(2.5e-7);
      assertThat(t.ensembleSteps())
          .singleElement()
          .satisfies(
              s -> {
                assertThat(s.step()).isZero();
                assertThat(s.model()).isEqualTo("a");
                assertThat(s.version()).isEqualTo("1");
                assertThat(s.startMicros()).isLessThanOrEqualTo(t.totalMicros());
                assertThat(s.timing().queueMicros()).isEqualTo(300);
                assertThat(s.timing().batchRows()).isEqualTo(4);
              });
      Map<String, Object> p = t.parameters();
      assertThat(p)
          .containsEntry("queue_us", 300L)
          .containsEntry("compute_us", 900L)
          .containsEntry("cost_usd", 2.5e-7)
          .containsEntry("step.0.model", "a")
          .containsEntry("step.0.version", "1")
          .containsEntry("step.0.queue_us", 300L)
          .containsEntry("step.0.compute_us", 900L)
          .containsEntry("step.0.batch_rows", 4)
          .containsEntry("step.0.request_rows", 1)
          .containsEntry("step.0.total_us", 1250L)
          .containsEntry("step.0.cache_hit", false)
          .containsEntry("step.0.cost_usd", 2.5e-7)
          .containsKey("step.0.start_us");
    }
  }

  @Test
  void maxInflightRequestsBoundsAStepOverAllRequestsAndAWaitingStepOfAnEndedRequestNeverRuns()
      throws Exception {
    try (SchedulerEnvironment env = SchedulerEnvironment.system();
        ModelRepository r = load(env, "max-inflight-requests: 1")) {
      ModelVersion mv = r.resolve("ens", "");
      assertThat(Objects.requireNonNull(mv.config().ensemble()).maxInflightRequests()).isEqualTo(1);
      List<CompletableFuture<InferenceResponse>> sent =
          java.util.Collections.synchronizedList(new ArrayList<>());
      EnsembleRunner runner =
          new EnsembleRunner(
              (step, nesting) -> {
                CompletableFuture<InferenceResponse> f = new CompletableFuture<>();
                sent.add(f);
                return f;
              });
      CompletableFuture<InferenceResponse> first = submit(runner, mv, 0);
      CompletableFuture<InferenceResponse> second = submit(runner, mv, 0);
      CompletableFuture<InferenceResponse> third = submit(runner, mv, 0);
      assertThat(sent).hasSize(1); // the others wait for room at step 0
      assertThat(third.cancel(false)).isTrue(); // the client of the third goes away meanwhile

      sent.get(0).complete(answerOfA());
      assertThat(first.get(30, TimeUnit.SECONDS).outputs()).hasSize(1);
      assertThat(sent).hasSize(2); // the second's step got the room the first's gave back

      sent.get(1).complete(answerOfA());
      assertThat(second.get(30, TimeUnit.SECONDS).outputs()).hasSize(1);
      assertThat(sent).hasSize(2); // the third's step never ran: its request had ended

      // and its room was given back: a new request's step starts at once
      CompletableFuture<InferenceResponse> fourth = submit(runner, mv, 0);
      assertThat(sent).hasSize(3);
      sent.get(2).completeExceptionally(InferenceException.internal("stop", null));
      assertThatThrownBy(() -> fourth.get(30, TimeUnit.SECONDS))
          .cause()
          .hasMessageContaining("stop");
      CompletableFuture<InferenceResponse> fifth = submit(runner, mv, 0);
      assertThat(sent).hasSize(4); // a failed step gives its room back too
      sent.get(3).complete(answerOfA());
      assertThat(fifth.get(30, TimeUnit.SECONDS).outputs()).hasSize(1);
      assertThat(mv.statistics().snapshot().success().count()).isEqualTo(3);
    }
  }

  @Test
  void aNegativeMaxInflightRequestsIsALoadErrorNamingTheField() throws Exception {
    try (SchedulerEnvironment env = SchedulerEnvironment.system();
        ModelRepository r = load(env, "max-inflight-requests: -1")) {
      assertThatThrownBy(() -> r.resolve("ens", "")).isInstanceOf(InferenceException.class);
      assertThat(r.index())
          .filteredOn(row -> row.name().equals("ens"))
          .first()
          .satisfies(
              row ->
                  assertThat(row.reason())
                      .contains("field 'ensemble.max-inflight-requests': must be >= 0"));
    }
  }
}
