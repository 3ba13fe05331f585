package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.tensor.Fp32;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ensemble models (Triton's {@code platform: ensemble}) over the fake runtime, whose models echo
 * their i-th input as their i-th output: loading and its errors, the graph's execution, failures,
 * cancellation and statistics.
 */
class EnsembleTest {
  @TempDir Path repo;

  /** a: x -> y; b: p, q -> r, s (r = p, s = q). */
  private void writeComposing() throws Exception {
    EnsembleRepo.writeEcho(repo, "a");
    EnsembleRepo.writeEcho(repo, "a2");
    FakeRuntime.writeModel(
        repo.resolve("b/1/model.onnx"),
        "in p FP32 -1,2",
        "in q FP32 -1,2",
        "out r FP32 -1,2",
        "out s FP32 -1,2");
  }

  /** IN -> a -> T1, IN -> a2 -> T2, (T1, T2) -> b -> (OUT, OUT2): a diamond. */
  private static final String DIAMOND =
      """
      platform: ensemble
      max-batch-size: 8
      inputs:
        - {name: IN, datatype: FP32, dims: [2]}
      outputs:
        - {name: OUT, datatype: FP32, dims: [2]}
        - {name: OUT2, datatype: FP32, dims: [2]}
      ensemble:
        steps:
          - model: b
            input-map: {p: T1, q: T2}
            output-map: {r: OUT, s: OUT2}
          - model: a
            input-map: {x: IN}
            output-map: {y: T1}
          - model: a2
            model-version: 1
            input-map: {x: IN}
            output-map: {y: T2}
      """;

  private void writeEnsemble(String name, String yaml) throws Exception {
    EnsembleRepo.writeEnsemble(repo, name, yaml);
  }

  private ModelRepository load(FakeRuntime runtime) {
    ModelRepository r =
        new ModelRepository(List.of(repo), List.of(runtime), new ModelConfigResolver(4, 32));
    r.loadAll();
    return r;
  }

  /** A repository in EXPLICIT mode that has loaded nothing yet. */
  private ModelRepository explicit(SchedulerEnvironment env) {
    ModelRepository r =
        new ModelRepository(
            List.of(repo),
            List.of(new FakeRuntime()),
            new ModelConfigResolver(4, 32),
            env,
            ModelRepository.Settings.defaults().withMode(ControlMode.EXPLICIT));
    r.loadAll();
    return r;
  }

  private static InferenceRequest request(String model, String... outputs) {
    return new InferenceRequest(
        model,
        "",
        "id-1",
        Map.of(),
        List.of(Fp32.tensor("IN", new long[] {1, 2}, 1.5f, -2f)),
        java.util.Arrays.stream(outputs).map(RequestedOutput::named).toList());
  }

  private static String reason(ModelRepository r, String model) {
    return r.index().stream()
        .filter(s -> s.name().equals(model))
        .map(ModelVersionStatus::reason)
        .findFirst()
        .orElse("");
  }

  @Test
  void aDiamondRunsEachStepThroughItsModelAndAnswersTheEnsembleOutputs() throws Exception {
    writeComposing();
    writeEnsemble("ens", DIAMOND);
    FakeRuntime rt = new FakeRuntime();
    try (ModelRepository r = load(rt)) {
      ModelVersion ens = r.resolve("ens", "");
      assertThat(ens.config().platform()).isEqualTo("ensemble");
      assertThat(ens.config().maxBatchSize()).isEqualTo(8);
      InferenceService svc = new InferenceService(r, true);
      assertThat(svc.isModelReady("ens", "")).isTrue();

      InferenceResponse out = svc.infer(request("ens")).get(30, TimeUnit.SECONDS);
      assertThat(out.modelName()).isEqualTo("ens");
      assertThat(out.modelVersion()).isEqualTo("1");
      assertThat(out.id()).isEqualTo("id-1");
      assertThat(out.outputs()).extracting(Tensor::name).containsExactly("OUT", "OUT2");
      assertThat(Fp32.floats(out.outputs().get(0))).containsExactly(1.5f, -2f);
      assertThat(Fp32.floats(out.outputs().get(1))).containsExactly(1.5f, -2f);
      assertThat(out.outputs().get(0).shape()).containsExactly(1, 2);

      // each step was a request of its own model, counted in its statistics
      for (String m : List.of("a", "a2", "b")) {
        assertThat(r.resolve(m, "").statistics().snapshot().success().count()).as(m).isEqualTo(1);
      }
      assertThat(ens.statistics().snapshot().success().count()).isEqualTo(1);
      assertThat(ens.statistics().snapshot().fail().count()).isZero();
    }
  }

  @Test
  void anEnsembleVersionKeepsNoEngineThread() throws Exception {
    writeComposing();
    writeEnsemble("threadless", DIAMOND);
    try (ModelRepository r = load(new FakeRuntime())) {
      InferenceService svc = new InferenceService(r, true);
      svc.infer(request("threadless")).get(30, TimeUnit.SECONDS);
      List<String> names =
          Thread.getAllStackTraces().keySet().stream().map(Thread::getName).toList();
      // its composing models keep theirs (this environment's workers never idle)
      assertThat(names).contains("fulcrum-exec-a-v1-0");
      assertThat(names).noneMatch(n -> n.startsWith("fulcrum-exec-threadless-"));
    }
  }

  @Test
  void onlyTheStepsTheRequestedOutputsNeedRun() throws Exception {
    writeComposing();
    writeEnsemble(
        "ens",
        """
        platform: ensemble
        max-batch-size: 8
        inputs: [{name: IN, datatype: FP32, dims: [2]}]
        outputs:
          - {name: A, datatype: FP32, dims: [2]}
          - {name: B, datatype: FP32, dims: [2]}
        ensemble:
          steps:
            - {model: a, input-map: {x: IN}, output-map: {y: A}}
            - {model: a2, input-map: {x: IN}, output-map: {y: B}}
        """);
    FakeRuntime rt = new FakeRuntime();
    try (ModelRepository r = load(rt)) {
      InferenceService svc = new InferenceService(r, true);
      InferenceResponse out = svc.infer(request("ens", "B")).get(30, TimeUnit.SECONDS);
      assertThat(out.outputs()).extracting(Tensor::name).containsExactly("B");
      assertThat(r.resolve("a", "").statistics().snapshot().success().count()).isZero();
      assertThat(r.resolve("a2", "").statistics().snapshot().success().count()).isEqualTo(1);
    }
  }

  @Test
  void aFailingStepFailsTheRequestNamingItsModel() throws Exception {
    writeComposing();
    FakeRuntime.writeModel(
        repo.resolve("broken/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2", "fail-execute");
    writeEnsemble(
        "ens",
        """
        platform: ensemble
        max-batch-size: 8
        inputs: [{name: IN, datatype: FP32, dims: [2]}]
        outputs: [{name: OUT, datatype: FP32, dims: [2]}]
        ensemble:
          steps:
            - {model: a, input-map: {x: IN}, output-map: {y: T}}
            - {model: broken, input-map: {x: T}, output-map: {y: OUT}}
        """);
    try (ModelRepository r = load(new FakeRuntime())) {
      InferenceService svc = new InferenceService(r, true);
      assertThatThrownBy(() -> svc.infer(request("ens")).get(30, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOfSatisfying(
              InferenceException.class,
              e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL);
                assertThat(e.getMessage())
                    .startsWith("ensemble 'ens': step 1 (model 'broken') failed: ")
                    .contains("fake engine: execution failed");
              });
      ModelVersion ens = r.resolve("ens", "");
      assertThat(ens.statistics().snapshot().fail().count()).isEqualTo(1);
      assertThat(ens.statistics().snapshot().success().count()).isZero();
    }
  }

  @Test
  void aStepRefusedForAFullQueueIsThe429OfTheEnsemble() throws Exception {
    EnsembleRepo.writeEcho(repo, "q");
    Files.writeString(
        repo.resolve("q/config.yaml"),
        "max-batch-size: 0\ninstance-count: 1\nqueue-policy: {max-queue-size: 1}\n");
    writeEnsemble(
        "ens",
        """
        platform: ensemble
        inputs: [{name: IN, datatype: FP32, dims: [-1, 2]}]
        outputs: [{name: OUT, datatype: FP32, dims: [-1, 2]}]
        ensemble:
          steps:
            - {model: q, input-map: {x: IN}, output-map: {y: OUT}}
        """);
    FakeRuntime rt = new FakeRuntime();
    try (ModelRepository r = load(rt)) {
      InferenceService svc = new InferenceService(r, true);
      CountDownLatch gate = new CountDownLatch(1);
      rt.gate = gate;
      List<CompletableFuture<InferenceResponse>> sent = new java.util.ArrayList<>();
      for (int i = 0; i < 4; i++) {
        sent.add(svc.infer(request("ens")));
      }
      gate.countDown();
      int refused = 0;
      for (CompletableFuture<InferenceResponse> f : sent) {
        try {
          f.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          assertThat(e.getCause())
              .isInstanceOfSatisfying(
                  InferenceException.class,
                  ie -> {
                    assertThat(ie.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
                    assertThat(ie.getMessage()).startsWith("ensemble 'ens': step 0 (model 'q')");
                  });
          refused++;
        }
      }
      assertThat(refused).isPositive();
      assertThat(r.resolve("ens", "").statistics().snapshot().fail().count()).isEqualTo(refused);
    }
  }

  @Test
  void aBadInputIsRefusedAsTheEnsemblesOwn400() throws Exception {
    writeComposing();
    writeEnsemble("ens", DIAMOND);
    try (ModelRepository r = load(new FakeRuntime())) {
      InferenceService svc = new InferenceService(r, true);
      InferenceRequest wrong =
          new InferenceRequest(
              "ens",
              "",
              "",
              Map.of(),
              List.of(Fp32.tensor("IN", new long[] {1, 3}, 1, 2, 3)),
              List.of());
      assertThatThrownBy(() -> svc.infer(wrong).get(30, TimeUnit.SECONDS))
          .cause()
          .isInstanceOfSatisfying(
              InferenceException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
    }
  }

  @Test
  void cancellingTheRequestCancelsItsQueuedSteps() throws Exception {
    writeComposing();
    writeEnsemble("ens", DIAMOND);
    FakeRuntime rt = new FakeRuntime();
    try (ModelRepository r = load(rt)) {
      InferenceService svc = new InferenceService(r, true);
      CountDownLatch gate = new CountDownLatch(1);
      rt.gate = gate;
      CompletableFuture<InferenceResponse> f = svc.infer(request("ens"));
      // both first steps are queued or running (a's and a2's passes wait at the gate)
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (rt.executions.get() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      f.cancel(false);
      gate.countDown();
      ModelVersion ens = r.resolve("ens", "");
      while (ens.statistics().snapshot().cancelled() < 1 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(ens.statistics().snapshot().cancelled()).isEqualTo(1);
      // b never ran: its step was not started once the request was cancelled
      Thread.sleep(50);
      assertThat(r.resolve("b", "").statistics().snapshot().success().count()).isZero();
      assertThat(svc.inFlight()).isZero();
    }
  }

  @Test
  void anUnloadedComposingModelMakesTheEnsembleNotReadyAndItsRequestsUnavailable()
      throws Exception {
    writeComposing();
    writeEnsemble("ens", DIAMOND);
    try (SchedulerEnvironment env = SchedulerEnvironment.system();
        ModelRepository r = explicit(env)) {
      r.manager().load("ens", null).get(30, TimeUnit.SECONDS);
      InferenceService svc = new InferenceService(r, true);
      assertThat(svc.isModelReady("ens", "")).isTrue();
      r.manager().unload("a2").get(30, TimeUnit.SECONDS);
      assertThat(svc.isModelReady("ens", "")).isFalse();
      assertThatThrownBy(() -> svc.infer(request("ens")).get(30, TimeUnit.SECONDS))
          .cause()
          .isInstanceOfSatisfying(
              InferenceException.class,
              e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
                assertThat(e.getMessage()).contains("step 2 (model 'a2')");
              });
    }
  }

  @Test
  void aComposingModelReloadedToAnotherOutputTypeTakesTheEnsembleOutOfReadyUntilItFitsAgain()
      throws Exception {
    // as Triton: the composing model's reload is taken, and the ensemble that depends on it is
    // checked again; one that no longer fits is UNAVAILABLE, with the reason, instead of READY
    // and failing at its step
    writeComposing();
    writeEnsemble("ens", DIAMOND);
    try (SchedulerEnvironment env = SchedulerEnvironment.system();
        ModelRepository r = explicit(env)) {
      r.manager().load("ens", null).get(30, TimeUnit.SECONDS);
      InferenceService svc = new InferenceService(r, true);
      assertThat(svc.isModelReady("ens", "")).isTrue();

      // a new version of a whose output is FP64: b's input p takes FP32
      FakeRuntime.writeModel(repo.resolve("a/2/model.onnx"), "in x FP32 -1,2", "out y FP64 -1,2");
      r.manager().load("a", null).get(30, TimeUnit.SECONDS);
      assertThat(r.resolve("a", "").version()).isEqualTo(2);

      // (the file as messages show it: its last three names, the repository's folder first)
      String why =
          "ens/config.yaml: field 'ensemble.steps[0].input-map[p]': ensemble tensor 'T1' is"
              + " output 'y' of model 'a', FP64, but FP32 is expected by input 'p' of model 'b'";
      assertThat(svc.isModelReady("ens", "")).isFalse();
      assertThat(r.index())
          .filteredOn(row -> row.name().equals("ens"))
          .singleElement()
          .satisfies(
              row -> {
                assertThat(row.state()).isEqualTo(ModelState.UNAVAILABLE);
                assertThat(row.reason())
                    .startsWith("a composing model changed after the ensemble loaded: ")
                    .endsWith(why);
              });
      assertThat(r.allReady()).isFalse();
      for (String version : List.of("", "1")) {
        InferenceRequest pinned =
            new InferenceRequest(
                "ens",
                version,
                "",
                Map.of(),
                List.of(Fp32.tensor("IN", new long[] {1, 2}, 1.5f, -2f)),
                List.of());
        assertThatThrownBy(() -> svc.infer(pinned).get(30, TimeUnit.SECONDS))
            .cause()
            .isInstanceOfSatisfying(
                InferenceException.class,
                e -> {
                  assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
                  assertThat(e.getMessage()).endsWith(why);
                });
      }
      // a load of the ensemble checks its composing models again, and says why it fails
      assertThatThrownBy(() -> r.manager().load("ens", null).get(30, TimeUnit.SECONDS))
          .cause()
          .isInstanceOfSatisfying(
              InferenceException.class,
              e ->
                  assertThat(e.getMessage())
                      .contains("field 'ensemble.steps[0].input-map[p]'")
                      .contains("FP64, but FP32 is expected"));
      assertThat(svc.isModelReady("ens", "")).isFalse();

      // a's next version fits again: the ensemble is READY and answers
      FakeRuntime.writeModel(repo.resolve("a/3/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
      r.manager().load("a", null).get(30, TimeUnit.SECONDS);
      assertThat(svc.isModelReady("ens", "")).isTrue();
      assertThat(reason(r, "ens")).isEmpty();
      assertThat(r.allReady()).isTrue();
      InferenceResponse out = svc.infer(request("ens")).get(30, TimeUnit.SECONDS);
      assertThat(Fp32.floats(out.outputs().get(0))).containsExactly(1.5f, -2f);
    }
  }

  @Test
  void explicitModeLoadingAnEnsembleLoadsItsComposingModels() throws Exception {
    writeComposing();
    writeEnsemble("ens", DIAMOND);
    try (SchedulerEnvironment env = SchedulerEnvironment.system();
        ModelRepository r = explicit(env)) {
      assertThatThrownBy(() -> r.resolve("a", "")).isInstanceOf(InferenceException.class);
      r.manager().load("ens", null).get(30, TimeUnit.SECONDS);
      for (String m : List.of("ens", "a", "a2", "b")) {
        assertThat(r.resolve(m, "").isReady()).as(m).isTrue();
      }
    }
  }

  @Test
  void aMissingComposingModelFailsTheLoadNamingIt() throws Exception {
    writeComposing();
    writeEnsemble("ens", DIAMOND.replace("model: a2", "model: nope"));
    try (ModelRepository r = load(new FakeRuntime())) {
      assertThatThrownBy(() -> r.resolve("ens", ""))
          .isInstanceOfSatisfying(
              InferenceException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
      assertThat(reason(r, "ens"))
          .contains("ens/config.yaml")
          .contains("field 'ensemble.steps[2].model'")
          .contains("the composing model 'nope' is not available");
    }
  }

  /** An ensemble of one step, IN -> {@code model} -> OUT, where that model's tensors are named. */
  private static String oneStep(String model, String in, String out) {
    return """
        platform: ensemble
        max-batch-size: 8
        inputs: [{name: IN, datatype: FP32, dims: [2]}]
        outputs: [{name: OUT, datatype: FP32, dims: [2]}]
        ensemble:
          steps:
            - {model: %s, input-map: {%s: IN}, output-map: {%s: OUT}}
        """
        .formatted(model, in, out);
  }

  @Test
  void aReloadThatClosesALoopThroughAnotherEnsembleIsRefusedAndTheOldConfigKeepsServing()
      throws Exception {
    // e2 serves (calls a); e1 loads calling e2; then e2's configuration changes to call e1: were
    // it accepted, every request to either would recurse through the other without end
    writeComposing();
    writeEnsemble("e2", oneStep("a", "x", "y"));
    writeEnsemble("e1", oneStep("e2", "IN", "OUT"));
    try (SchedulerEnvironment env = SchedulerEnvironment.system();
        ModelRepository r = explicit(env)) {
      r.manager().load("e2", null).get(30, TimeUnit.SECONDS);
      r.manager().load("e1", null).get(30, TimeUnit.SECONDS);
      writeEnsemble("e2", oneStep("e1", "IN", "OUT"));
      assertThatThrownBy(() -> r.manager().load("e2", null).get(30, TimeUnit.SECONDS))
          .cause()
          .isInstanceOfSatisfying(
              InferenceException.class,
              e ->
                  assertThat(e.getMessage())
                      .contains("e2/config.yaml")
                      .contains("field 'ensemble.steps[0].model'")
                      .contains(
                          "the composing model 'e1' forms a loop of ensembles: e2 → e1 → e2"));
      // e2 keeps serving as loaded before, so e1 answers through it
      assertThat(java.util.Objects.requireNonNull(r.resolve("e2", "").config().ensemble()).models())
          .containsExactly("a");
      InferenceService svc = new InferenceService(r, true);
      InferenceResponse out = svc.infer(request("e1")).get(30, TimeUnit.SECONDS);
      assertThat(Fp32.floats(out.outputs().get(0))).containsExactly(1.5f, -2f);
    }
  }

  @Test
  void aRequestDeeperThanEightEnsemblesFailsWithoutStartingTheStepsBelow() throws Exception {
    // n0 -> n1 -> ... -> n8 -> a: a request to n1 runs in eight ensembles (the bound,
    // EnsembleRunner.MAX_NESTING), one to n0 in nine
    writeComposing();
    writeEnsemble("n8", oneStep("a", "x", "y"));
    for (int i = 0; i < 8; i++) {
      writeEnsemble("n" + i, oneStep("n" + (i + 1), "IN", "OUT"));
    }
    try (ModelRepository r = load(new FakeRuntime())) {
      InferenceService svc = new InferenceService(r, true);
      InferenceResponse out = svc.infer(request("n1")).get(30, TimeUnit.SECONDS);
      assertThat(Fp32.floats(out.outputs().get(0))).containsExactly(1.5f, -2f);

      assertThatThrownBy(() -> svc.infer(request("n0")).get(30, TimeUnit.SECONDS))
          .cause()
          .isInstanceOfSatisfying(
              InferenceException.class,
              e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL);
                assertThat(e.getMessage())
                    .startsWith("ensemble 'n0': step 0 (model 'n1') failed: ensemble 'n1': ")
                    .contains("ensemble 'n8': ensemble nesting exceeds 8");
              });
      // the ninth ensemble started no step: a ran once, for the request to n1
      assertThat(r.resolve("a", "").statistics().snapshot().success().count()).isEqualTo(1);
      assertThat(r.resolve("n8", "").statistics().snapshot().fail().count()).isEqualTo(1);
      assertThat(r.resolve("n0", "").statistics().snapshot().fail().count()).isEqualTo(1);
      assertThat(svc.inFlight()).isZero();
    }
  }

  private String loadError(String yaml) throws Exception {
    writeComposing();
    writeEnsemble("ens", yaml);
    try (ModelRepository r = load(new FakeRuntime())) {
      assertThatThrownBy(() -> r.resolve("ens", "")).isInstanceOf(InferenceException.class);
      return reason(r, "ens");
    }
  }

  @Test
  void aMapKeyThatIsNotAnInputOfItsModelIsALoadError() throws Exception {
    assertThat(loadError(DIAMOND.replace("{p: T1, q: T2}", "{p: T1, z: T2}")))
        .contains("field 'ensemble.steps[0].input-map[z]'")
        .contains("'z' is not an input of model 'b' (its inputs: [p, q])");
  }

  @Test
  void anOutputKeyThatIsNotAnOutputOfItsModelIsALoadError() throws Exception {
    assertThat(loadError(DIAMOND.replace("output-map: {y: T1}", "output-map: {w: T1}")))
        .contains("field 'ensemble.steps[1].output-map[w]'")
        .contains("'w' is not an output of model 'a'");
  }

  @Test
  void aTensorTakenButNeverMadeIsALoadError() throws Exception {
    assertThat(loadError(DIAMOND.replace("{p: T1, q: T2}", "{p: T1, q: T9}")))
        .contains("field 'ensemble.steps[0].input-map[q]'")
        .contains("ensemble tensor 'T9' is taken but never made");
  }

  @Test
  void aCycleIsALoadError() throws Exception {
    // a takes what a2 makes and a2 what a makes
    assertThat(
            loadError(
                """
                platform: ensemble
                inputs: [{name: IN, datatype: FP32, dims: [-1, 2]}]
                outputs: [{name: OUT, datatype: FP32, dims: [-1, 2]}]
                ensemble:
                  steps:
                    - {model: b, input-map: {p: IN, q: T2}, output-map: {r: OUT}}
                    - {model: a, input-map: {x: T2}, output-map: {y: T1}}
                    - {model: a2, input-map: {x: T1}, output-map: {y: T2}}
                """))
        .contains("field 'ensemble.steps'")
        .contains("form a cycle");
  }

  @Test
  void anOutputNobodyMakesIsALoadError() throws Exception {
    assertThat(loadError(DIAMOND.replace("{r: OUT, s: OUT2}", "{r: OUT}")))
        .contains("field 'outputs[1]'")
        .contains("ensemble output 'OUT2' is made by no step's output-map");
  }

  @Test
  void aTypeMismatchIsALoadError() throws Exception {
    assertThat(
            loadError(DIAMOND.replace("{name: IN, datatype: FP32", "{name: IN, datatype: INT64")))
        .contains("field 'ensemble.steps[1].input-map[x]'")
        .contains("ensemble tensor 'IN' is ensemble input 'IN', INT64, but FP32 is expected by");
  }

  @Test
  void aShapeMismatchIsALoadError() throws Exception {
    assertThat(
            loadError(
                DIAMOND.replace(
                    "{name: OUT, datatype: FP32, dims: [2]}",
                    "{name: OUT, datatype: FP32, dims: [3]}")))
        .contains("field 'outputs[0]'")
        .contains("[-1, 2], which does not fit the shape [-1, 3]");
  }

  @Test
  void aModelFieldOnAnEnsembleIsALoadError() throws Exception {
    assertThat(loadError(DIAMOND + "instance-count: 2\n"))
        .contains("field 'instance-count': does not apply to an ensemble");
  }

  @Test
  void anEnsembleWithoutSectionIsALoadError() throws Exception {
    assertThat(loadError("platform: ensemble\n"))
        .contains("field 'platform': 'ensemble' needs ensemble with its steps");
  }
}
