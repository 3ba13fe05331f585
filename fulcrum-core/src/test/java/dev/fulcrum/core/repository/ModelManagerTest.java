package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestValidator;
import dev.fulcrum.core.repository.LifecycleEvent.LoadFailed;
import dev.fulcrum.core.repository.LifecycleEvent.Loaded;
import dev.fulcrum.core.repository.LifecycleEvent.StateChanged;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model manager's state machine, driven deterministically: control operations run on the
 * calling thread (a direct executor) and time advances one millisecond per reading.
 */
class ModelManagerTest {
  @TempDir Path repo;

  private final FakeRuntime runtime = new FakeRuntime();
  private final List<LifecycleEvent> events = new CopyOnWriteArrayList<>();
  private final AtomicLong now = new AtomicLong();
  private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
  private ModelManager manager;

  private ModelManager manager(ControlMode mode) {
    return manager(mode, Runnable::run);
  }

  private ModelManager manager(ControlMode mode, Executor control) {
    SchedulerEnvironment env =
        new SchedulerEnvironment(
            () -> now.addAndGet(1_000_000),
            () -> 0L,
            Thread.ofPlatform().daemon(true).factory(),
            timer,
            (m, v) -> SchedulerObserver.none(),
            Duration.ZERO);
    manager =
        new ModelManager(
            new RepositorySource(List.of(repo)),
            List.of(runtime),
            new ModelConfigResolver(2, 8),
            env,
            control,
            mode);
    manager.addListener(events::add);
    return manager;
  }

  @AfterEach
  void close() {
    if (manager != null) {
      manager.closeAll(Duration.ofSeconds(5));
    }
    timer.shutdownNow();
  }

  private void writeModel(String name, int version) throws Exception {
    FakeRuntime.writeModel(
        repo.resolve(name + "/" + version + "/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
  }

  private static InferenceRequest request(String model, String version) {
    ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1).putFloat(2);
    return new InferenceRequest(
        model,
        version,
        "",
        null,
        List.of(Tensor.of("x", DataType.FP32, new long[] {1, 2}, b.flip())),
        null);
  }

  private List<String> transitions(String model) {
    return events.stream()
        .filter(e -> e instanceof StateChanged && e.model().equals(model))
        .map(e -> ((StateChanged) e).version() + ":" + ((StateChanged) e).to())
        .toList();
  }

  private static InferenceException failure(CompletableFuture<?> f) {
    try {
      f.join();
    } catch (CompletionException e) {
      return (InferenceException) e.getCause();
    }
    throw new AssertionError("expected a failure");
  }

  @Test
  void explicitModeLoadsOnlyWhatIsAskedAndUnloadDrainsIt() throws Exception {
    writeModel("a", 1);
    writeModel("b", 1);
    ModelManager m = manager(ControlMode.EXPLICIT);
    m.start(List.of("a")).join();

    assertThat(m.resolve("a", "").isReady()).isTrue();
    assertThatThrownBy(() -> m.resolve("b", ""))
        .isInstanceOfSatisfying(
            InferenceException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
    assertThat(m.index())
        .extracting(s -> s.name() + "/" + s.version() + "/" + s.state().tritonName())
        .containsExactly("a/1/READY", "b//UNAVAILABLE");
    assertThat(m.allReady()).isTrue();
    assertThat(transitions("a")).containsExactly("1:LOADING", "1:WARMING", "1:READY");

    m.load("b", null).join();
    ModelVersion b1 = m.resolve("b", "1");
    assertThat(events).anySatisfy(e -> assertThat(e).isInstanceOf(Loaded.class));

    m.unload("b").join();
    assertThat(b1.state()).isEqualTo(ModelState.UNLOADED);
    assertThat(transitions("b"))
        .containsExactly("1:LOADING", "1:WARMING", "1:READY", "1:UNLOADING", "1:UNLOADED");
    assertThatThrownBy(() -> m.resolve("b", "1"))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
              assertThat(e.getMessage()).contains("not loaded");
            });
    assertThat(m.index())
        .filteredOn(s -> s.name().equals("b"))
        .singleElement()
        .satisfies(s -> assertThat(s.state().tritonName()).isEqualTo("UNAVAILABLE"));
    assertThat(m.allReady()).isTrue();

    assertThat(failure(m.load("nope", null)).code()).isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(failure(m.unload("nope")).code()).isEqualTo(ErrorCode.NOT_FOUND);
  }

  @Test
  void aStartupNameTheRepositoryDoesNotHoldLeavesTheServerNotReady() throws Exception {
    writeModel("m", 1);
    ModelManager m = manager(ControlMode.EXPLICIT);
    m.start(List.of("m", "nope")).join();
    assertThat(m.resolve("m", "").isReady()).isTrue();
    assertThat(m.index())
        .filteredOn(s -> s.name().equals("nope"))
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s.state()).isEqualTo(ModelState.UNAVAILABLE);
              assertThat(s.reason()).contains("not in the model repository");
            });
    assertThat(m.allReady()).isFalse();

    // The folder appears and is loaded through the API: ready, the failure gone.
    writeModel("nope", 1);
    m.load("nope", null).join();
    assertThat(m.allReady()).isTrue();
  }

  @Test
  void closeAllClosesTheModelsTogetherNotOneAfterTheOther() throws Exception {
    // A server of many small models: one after the other, a model was told to stop only once the
    // one before it had closed, so one slow close held up all the others. Here each instance's
    // close finishes only once every model's close has begun: one after the other, the first
    // never would within the timeout, and the close would not be clean.
    for (String name : List.of("a", "b", "c")) {
      writeModel(name, 1);
    }
    ModelManager m = manager(ControlMode.NONE);
    m.start(List.of()).join();
    List<ModelVersion> versions =
        List.of(m.resolve("a", ""), m.resolve("b", ""), m.resolve("c", ""));
    runtime.closeRendezvous = new CountDownLatch(3);

    assertThat(m.closeAll(Duration.ofSeconds(20))).isTrue();
    assertThat(runtime.closeRendezvous.getCount()).isZero();
    assertThat(versions).allSatisfy(v -> assertThat(v.state()).isEqualTo(ModelState.UNLOADED));
  }

  @Test
  void aShutdownNeitherWaitsForALoadNorKeepsItsCallerWaiting() throws Exception {
    // A CD pipeline's load of a model whose session build takes minutes, when SIGTERM comes: the
    // drain waited for the load's answer and closeAll for the load itself, up to
    // --exit-timeout-secs, for a model nobody would be served by. Here the load never ends until
    // the test opens its gate: closeAll returning at all shows it did not wait for it.
    writeModel("served", 1);
    FakeRuntime.writeModel(
        repo.resolve("slow/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2", "slow-load");
    writeModel("queued", 1);
    ExecutorService control = Executors.newFixedThreadPool(1);
    try {
      ModelManager m = manager(ControlMode.EXPLICIT, control);
      m.start(List.of("served")).join();
      ModelVersion served = m.resolve("served", "");
      runtime.loadGate = new CountDownLatch(1);
      CompletableFuture<Void> load = m.load("slow", null);
      assertThat(runtime.loadEntered.await(30, TimeUnit.SECONDS)).isTrue();
      CompletableFuture<Void> behind = m.load("queued", null); // the one control thread is busy

      m.stopControl();
      assertThat(failure(load).code()).isEqualTo(ErrorCode.UNAVAILABLE);
      assertThat(failure(load).getMessage())
          .isEqualTo(
              "the server is shutting down: the load of model 'slow' did not finish and is not"
                  + " served");
      assertThat(failure(behind).getMessage())
          .isEqualTo("cannot load model 'queued': the server is shutting down");
      assertThat(failure(m.load("served", null)).code()).isEqualTo(ErrorCode.UNAVAILABLE);
      assertThat(failure(m.unload("served")).code()).isEqualTo(ErrorCode.UNAVAILABLE);

      assertThat(m.closeAll(Duration.ofMinutes(10))).as("a load still runs").isFalse();
      assertThat(runtime.loadEntered.getCount()).isZero();
      assertThat(served.state()).isEqualTo(ModelState.UNLOADED);

      // The load ends: what it loaded is closed by its own thread, never served.
      runtime.loadGate.countDown();
      control.shutdown();
      assertThat(control.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
      assertThat(m.versions("slow")).isEmpty();
      assertThat(transitions("slow")).endsWith("1:UNLOADING", "1:UNLOADED");
      assertThat(m.versions("queued")).isEmpty();
    } finally {
      control.shutdownNow();
    }
  }

  @Test
  void aRunningUnloadIsNotAnsweredEarlyByAShutdown() throws Exception {
    // An unload drains its model's requests, which the shutdown's drain waits for too: it ends,
    // and its caller gets its 200.
    writeModel("m", 1);
    ExecutorService control = Executors.newFixedThreadPool(1);
    try {
      ModelManager m = manager(ControlMode.EXPLICIT, control);
      m.start(List.of("m")).join();
      ModelVersion mv = m.resolve("m", "");
      int loaded = runtime.executions.get();
      runtime.gate = new CountDownLatch(1);
      InferenceRequest r = request("m", "");
      CompletableFuture<InferenceResponse> inFlight =
          mv.scheduler().submit(r, RequestValidator.validate(mv.config(), r));
      await(() -> runtime.executions.get() == loaded + 1);
      CompletableFuture<Void> unload = m.unload("m");
      await(() -> mv.state() == ModelState.UNLOADING);
      m.stopControl();
      assertThat(unload).isNotDone();
      runtime.gate.countDown();
      unload.get(30, TimeUnit.SECONDS);
      assertThat(inFlight.get(30, TimeUnit.SECONDS)).isNotNull();
    } finally {
      control.shutdownNow();
    }
  }

  @Test
  void aFirstDimensionThatIsNotABatchIsNotBatchedWhenBatchingWasInferred() throws Exception {
    // Every input and output has a dynamic first dimension, so batching is inferred; but the
    // graph reads the rows together (here: it reverses them). Joined, two clients' requests would
    // swap answers with shapes that fit. The load finds out and joins none.
    FakeRuntime.writeModel(
        repo.resolve("rows/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2", "reverse-rows");
    writeModel("batch", 1);
    ModelManager m = manager(ControlMode.NONE);
    m.start(List.of()).join();
    for (String model : List.of("rows", "batch")) {
      ModelVersion mv = m.resolve(model, "");
      assertThat(mv.config().maxBatchSize()).isPositive();
      // The verdict stays readable on the version (tune writes max-batch-size 0 from it).
      if (model.equals("rows")) {
        assertThat(mv.notABatch()).as(model).isNotBlank();
      } else {
        assertThat(mv.notABatch()).as(model).isNull();
      }
      CountDownLatch gate = new CountDownLatch(1);
      runtime.gate = gate;
      int before = runtime.executions.get();
      List<CompletableFuture<InferenceResponse>> answers = new java.util.ArrayList<>();
      InferenceRequest r = request(model, "");
      answers.add(mv.scheduler().submit(r, RequestValidator.validate(mv.config(), r)));
      await(() -> runtime.executions.get() == before + 1); // the first pass waits at the gate
      for (int i = 0; i < 2; i++) {
        answers.add(mv.scheduler().submit(r, RequestValidator.validate(mv.config(), r)));
      }
      await(() -> mv.scheduler().queued() == 2);
      runtime.gate = null;
      gate.countDown();
      CompletableFuture.allOf(answers.toArray(new CompletableFuture<?>[0]))
          .get(10, TimeUnit.SECONDS);
      // the two queued behind the first: one pass when joined, two when not
      assertThat(runtime.executions.get() - before - 1)
          .as(model)
          .isEqualTo(model.equals("rows") ? 2 : 1);
    }
  }

  @Test
  void noneModeRefusesExplicitControl() throws Exception {
    writeModel("a", 1);
    ModelManager m = manager(ControlMode.NONE);
    m.start(List.of()).join();
    assertThat(m.resolve("a", "").isReady()).isTrue();
    InferenceException e = failure(m.load("a", null));
    assertThat(e.code()).isEqualTo(ErrorCode.UNIMPLEMENTED);
    assertThat(e.getMessage()).contains("--model-control-mode explicit");
    assertThat(failure(m.unload("a")).code()).isEqualTo(ErrorCode.UNIMPLEMENTED);
  }

  @Test
  void aFailedReloadLeavesTheServingVersionAndARetryThenSwaps() throws Exception {
    writeModel("m", 1);
    ModelManager m = manager(ControlMode.EXPLICIT);
    m.start(List.of("m")).join();
    ModelVersion first = m.resolve("m", "");

    Files.writeString(repo.resolve("m/config.yaml"), "max-batch-size: 4\ninstnace-count: 2\n");
    InferenceException e = failure(m.load("m", null));
    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(e.getMessage())
        .contains("failed to load 'm'", "m/config.yaml", "instnace-count")
        .doesNotContain(repo.toString());
    assertThat(m.resolve("m", "")).isSameAs(first);
    assertThat(first.isReady()).isTrue();
    assertThat(events).anySatisfy(ev -> assertThat(ev).isInstanceOf(LoadFailed.class));

    // A warm-up that does not fit the model fails the load too, before anything is swapped.
    Files.writeString(
        repo.resolve("m/config.yaml"),
        "model-warmup:\n  - name: w\n    inputs:\n      z: {zero-data: true, dims: [2]}\n");
    assertThat(failure(m.load("m", null)).getMessage())
        .contains("m/config.yaml", "model-warmup[0].inputs.z", "no such input");
    assertThat(m.resolve("m", "")).isSameAs(first);

    Files.writeString(repo.resolve("m/config.yaml"), "max-batch-size: 4\n");
    m.load("m", null).join();
    ModelVersion second = m.resolve("m", "");
    assertThat(second).isNotSameAs(first);
    assertThat(second.config().maxBatchSize()).isEqualTo(4);
    assertThat(first.state()).isEqualTo(ModelState.UNLOADED);
    // The swapped version's row shows READY throughout; the old copy's states are events only.
    assertThat(m.index())
        .singleElement()
        .satisfies(s -> assertThat(s.state()).isEqualTo(ModelState.READY));

    // Loading again with nothing changed keeps what serves.
    m.load("m", null).join();
    assertThat(m.resolve("m", "")).isSameAs(second);
  }

  @Test
  void aNewVersionThatFailsToLoadLeavesTheServingOneAndAPollRetriesItOnceItsFilesChange()
      throws Exception {
    writeModel("m", 1);
    ModelManager m = manager(ControlMode.POLL);
    m.start(List.of()).join();
    ModelVersion v1 = m.resolve("m", "");

    // A half-copied version 2 (the default policy, latest 1, selects it alone): it fails, and
    // version 1 serves on.
    FakeRuntime.writeModel(repo.resolve("m/2/model.onnx"), "broken");
    m.poll().join();
    assertThat(m.resolve("m", "")).isSameAs(v1);
    assertThat(v1.isReady()).isTrue();
    assertThat(m.index())
        .extracting(s -> s.version() + ":" + s.state())
        .containsExactly("1:READY", "2:UNAVAILABLE");
    // the model still answers: a readiness probe keeps the replica in rotation
    assertThat(m.allReady()).isTrue();
    m.poll().join(); // nothing changed: not tried again
    assertThat(events).filteredOn(e -> e instanceof LoadFailed).hasSize(1);

    // The copy completes: the next poll sees the folder's files change and loads it.
    writeModel("m", 2);
    m.poll().join();
    assertThat(m.resolve("m", "").version()).isEqualTo(2);
    assertThat(v1.state()).isEqualTo(ModelState.UNLOADED);
  }

  @Test
  void anExplicitLoadLoadsAgainAVersionWhoseModelFileWasReplaced() throws Exception {
    writeModel("m", 1);
    ModelManager m = manager(ControlMode.EXPLICIT);
    m.start(List.of("m")).join();
    ModelVersion first = m.resolve("m", "");

    FakeRuntime.writeModel(repo.resolve("m/2/model.onnx"), "broken");
    InferenceException e = failure(m.load("m", null));
    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("version 2");
    assertThat(m.resolve("m", "")).isSameAs(first);
    assertThat(m.allReady()).isTrue(); // a failed push of version 2: version 1 serves on
    Files.delete(repo.resolve("m/2/model.onnx"));
    Files.delete(repo.resolve("m/2"));

    FakeRuntime.writeModel(repo.resolve("m/1/model.onnx"), "in x FP32 -1,3", "out y FP32 -1,3", "");
    m.load("m", null).join();
    ModelVersion second = m.resolve("m", "");
    assertThat(second).isNotSameAs(first);
    assertThat(second.config().inputs().get(0).dims()).containsExactly(3L);
    assertThat(first.state()).isEqualTo(ModelState.UNLOADED);

    m.load("m", null).join(); // nothing changed: what serves stays
    assertThat(m.resolve("m", "")).isSameAs(second);
  }

  @Test
  void aConfigOverrideReplacesTheFileForThatLoad() throws Exception {
    writeModel("m", 1);
    ModelManager m = manager(ControlMode.EXPLICIT);
    m.start(List.of("m")).join();
    m.load("m", "{\"max-batch-size\": 2}").join();
    assertThat(m.resolve("m", "").config().maxBatchSize()).isEqualTo(2);
    assertThat(failure(m.load("m", "{\"max-batch-sise\": 2}")).getMessage())
        .contains("unknown field 'max-batch-sise'")
        .doesNotContain(repo.toString());
    assertThat(m.resolve("m", "").config().maxBatchSize()).isEqualTo(2);
  }

  @Test
  void warmUpRunsOnEveryInstanceBeforeReadyAndItsTimeIsReported() throws Exception {
    writeModel("m", 1);
    Files.writeString(
        repo.resolve("m/config.yaml"),
        """
        instance-count: 2
        max-batch-size: 8
        model-warmup:
          - name: zeros
            batch-size: 4
            count: 3
            inputs:
              x: {data-type: FP32, dims: [2], zero-data: true}
          - name: random
            inputs:
              x: {random-data: true}
        """);
    ModelManager m = manager(ControlMode.NONE);
    m.start(List.of()).join();
    ModelVersion mv = m.resolve("m", "");
    assertThat(runtime.executions.get()).isEqualTo(2 * (3 + 1));
    assertThat(mv.warmupDuration()).isPositive();
    assertThat(mv.loadDuration()).isGreaterThan(mv.warmupDuration());
    assertThat(events)
        .filteredOn(e -> e instanceof Loaded)
        .singleElement()
        .satisfies(e -> assertThat(((Loaded) e).warmupDuration()).isEqualTo(mv.warmupDuration()));
  }

  @Test
  void aFailingWarmUpFailsTheLoadWithTheReason() throws Exception {
    FakeRuntime.writeModel(
        repo.resolve("m/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2", "fail-execute");
    Files.writeString(
        repo.resolve("m/config.yaml"),
        "model-warmup:\n  - name: zeros\n    inputs:\n      x: {zero-data: true}\n");
    ModelManager m = manager(ControlMode.NONE);
    m.start(List.of()).join();
    assertThat(m.index())
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s.state()).isEqualTo(ModelState.UNAVAILABLE);
              assertThat(s.reason()).contains("warm-up sample 'zeros' failed on instance 0");
            });
    assertThat(transitions("m")).containsExactly("1:LOADING", "1:WARMING", "1:UNAVAILABLE");
    assertThat(m.allReady()).isFalse();
  }

  @Test
  void pollLoadsANewVersionFolderAndUnloadsARemovedOne() throws Exception {
    writeModel("m", 1);
    ModelManager m = manager(ControlMode.POLL);
    m.start(List.of()).join();
    ModelVersion v1 = m.resolve("m", "");

    writeModel("m", 2);
    m.poll().join();
    assertThat(m.resolve("m", "").version()).isEqualTo(2);
    assertThat(v1.state()).isEqualTo(ModelState.UNLOADED);
    assertThatThrownBy(() -> m.resolve("m", "1"))
        .isInstanceOfSatisfying(
            InferenceException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));

    // Nothing changed: a poll leaves everything alone.
    ModelVersion v2 = m.resolve("m", "");
    m.poll().join();
    assertThat(m.resolve("m", "")).isSameAs(v2);

    try (var files = Files.walk(repo.resolve("m/2"))) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
    m.poll().join();
    assertThat(m.resolve("m", "").version()).isEqualTo(1);
    assertThat(v2.state()).isEqualTo(ModelState.UNLOADED);
    // its folder is gone: so is its row (the index grew by one at every such rollout)
    assertThat(m.index()).extracting(ModelVersionStatus::version).containsExactly("1");

    Files.writeString(repo.resolve("m/config.yaml"), "max-batch-size: 3\n");
    m.poll().join();
    assertThat(m.resolve("m", "").config().maxBatchSize()).isEqualTo(3);

    // A broken configuration is reported once (not at every poll) and what serves stays.
    Files.writeString(repo.resolve("m/config.yaml"), "max-batch-size: [\n");
    m.poll().join();
    m.poll().join();
    assertThat(m.resolve("m", "").config().maxBatchSize()).isEqualTo(3);
    assertThat(events).filteredOn(e -> e instanceof LoadFailed).hasSize(1);
    assertThat(m.index()) // the index tells why the edit did not take
        .filteredOn(s -> s.version().equals("1"))
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s.state()).isEqualTo(ModelState.READY);
              assertThat(s.reason()).contains("last load was refused", "m/config.yaml");
            });
    assertThat(m.allReady()).isTrue();

    // The model's folder removed: unloaded, then unknown (404, not a 503 a client retries), and
    // out of the index.
    try (var files = Files.walk(repo.resolve("m"))) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
    m.poll().join();
    assertThatThrownBy(() -> m.resolve("m", ""))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND);
              assertThat(e.getMessage()).contains("removed from the model repository");
            });
    assertThat(m.index()).isEmpty();
  }

  @Test
  void aSwapDrainsTheOldVersionWhileNewRequestsGoToTheNewOne() throws Exception {
    writeModel("m", 1);
    ModelManager m = manager(ControlMode.EXPLICIT);
    m.start(List.of("m")).join();
    ModelVersion old = m.resolve("m", "");

    CountDownLatch gate = new CountDownLatch(1);
    runtime.gate = gate;
    InferenceRequest r = request("m", "");
    int loaded = runtime.executions.get(); // the load's batch probe
    CompletableFuture<InferenceResponse> running =
        old.scheduler().submit(r, RequestValidator.validate(old.config(), r));
    await(() -> runtime.executions.get() == loaded + 1);
    runtime.gate = null; // only the running request waits

    writeModel("m", 2);
    CompletableFuture<Void> swap = new CompletableFuture<>();
    Thread.ofPlatform()
        .start(
            () -> {
              try {
                m.load("m", null).join();
                swap.complete(null);
              } catch (RuntimeException e) {
                swap.completeExceptionally(e);
              }
            });
    await(() -> old.state() == ModelState.UNLOADING);
    ModelVersion next = m.resolve("m", "");
    assertThat(next.version()).isEqualTo(2);
    assertThatThrownBy(() -> m.resolve("m", "1"))
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
              assertThat(e.getMessage()).contains("UNLOADING");
            });
    InferenceRequest r2 = request("m", "");
    assertThat(next.scheduler().submit(r2, RequestValidator.validate(next.config(), r2)).get())
        .isNotNull();
    assertThat(swap).isNotDone();
    // The old version drains; the model serves: a readiness probe must not see the swap.
    assertThat(m.index())
        .extracting(s -> s.version() + "/" + s.state())
        .containsExactly("1/UNLOADING", "2/READY");
    assertThat(m.allReady()).isTrue();

    gate.countDown();
    assertThat(running.get(10, TimeUnit.SECONDS).modelVersion()).isEqualTo("1");
    swap.get(10, TimeUnit.SECONDS);
    assertThat(old.state()).isEqualTo(ModelState.UNLOADED);
    assertThat(m.index())
        .extracting(s -> s.version() + "/" + s.state())
        .containsExactly("1/UNLOADED", "2/READY");
  }

  /** A model file of the fake runtime as a load request brings it. */
  private byte[] pushedModel() throws Exception {
    Path file = repo.resolveSibling(repo.getFileName() + "-pushed.onnx");
    FakeRuntime.writeModel(file, "in x FP32 -1,2", "out y FP32 -1,2");
    return java.nio.file.Files.readAllBytes(file);
  }

  @Test
  void aPushedModelIsReplacedByTheNextPushWhileItsRunningRequestFinishesOnTheOld()
      throws Exception {
    ModelManager m = manager(ControlMode.EXPLICIT);
    m.start(List.of()).join();
    byte[] model = pushedModel();
    m.load("p", "{}", java.util.Map.of("file:1/model.onnx", model)).join();
    ModelVersion old = m.resolve("p", "");
    assertThat(java.nio.file.Files.list(repo)).as("the repository is not written").isEmpty();

    CountDownLatch gate = new CountDownLatch(1);
    runtime.gate = gate;
    InferenceRequest r = request("p", "");
    int loaded = runtime.executions.get();
    CompletableFuture<InferenceResponse> running =
        old.scheduler().submit(r, RequestValidator.validate(old.config(), r));
    await(() -> runtime.executions.get() == loaded + 1);
    runtime.gate = null;

    CompletableFuture<Void> swap = new CompletableFuture<>();
    Thread.ofPlatform()
        .start(
            () -> {
              try {
                m.load("p", "{}", java.util.Map.of("file:2/model.onnx", model)).join();
                swap.complete(null);
              } catch (RuntimeException e) {
                swap.completeExceptionally(e);
              }
            });
    await(() -> old.state() == ModelState.UNLOADING);
    assertThat(m.resolve("p", "").version()).isEqualTo(2);
    assertThat(swap).isNotDone();
    gate.countDown();
    assertThat(running.get(10, TimeUnit.SECONDS).modelVersion()).isEqualTo("1");
    swap.get(10, TimeUnit.SECONDS);
    assertThat(m.modelFiles().folders("p")).hasSize(1); // the first push's folder is gone

    assertThat(failure(m.load("p", null, java.util.Map.of("file:1/model.onnx", model))))
        .hasMessageContaining("needs the 'config' parameter");
    m.unload("p").join();
    assertThat(m.modelFiles().folders("p")).isEmpty();
    assertThat(failure(m.load("p", null)).code()).isEqualTo(ErrorCode.NOT_FOUND);
    m.modelFiles().close();
  }

  /** A load request's body as a transport hands it over: read once, released once. */
  private static final class Body implements LoadRequestBody {
    final AtomicInteger reads = new AtomicInteger();
    final AtomicInteger releases = new AtomicInteger();
    volatile @Nullable String readOn;
    private final Map<String, byte[]> files;
    private final @Nullable String config;
    private final @Nullable InferenceException failAfterFiles;

    Body(
        Map<String, byte[]> files,
        @Nullable String config,
        @Nullable InferenceException failAfterFiles) {
      this.files = files;
      this.config = config;
      this.failAfterFiles = failAfterFiles;
    }

    @Override
    public @Nullable String read(ModelFiles.Push push) throws IOException {
      reads.incrementAndGet();
      readOn = Thread.currentThread().getName();
      for (var f : files.entrySet()) {
        try (var out = push.file(f.getKey())) {
          out.write(f.getValue());
        }
      }
      if (failAfterFiles != null) {
        throw failAfterFiles;
      }
      return config;
    }

    @Override
    public void release() {
      releases.incrementAndGet();
    }
  }

  @Test
  void aLoadRequestBodyIsReadOnTheControlThreadAndReleasedOnceWhateverHappens() throws Exception {
    ExecutorService control =
        Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().name("control-test").daemon(true).unstarted(r));
    try {
      ModelManager m = manager(ControlMode.EXPLICIT, control);
      m.start(List.of()).join();
      byte[] model = pushedModel();

      Body pushed = new Body(Map.of("file:1/model.onnx", model), "{}", null);
      m.loadRequest("p", pushed).get(10, TimeUnit.SECONDS);
      assertThat(m.resolve("p", "").version()).isEqualTo(1);
      assertThat(pushed.readOn).isEqualTo("control-test");
      assertThat(pushed.reads).hasValue(1);
      assertThat(pushed.releases).hasValue(1);
      assertThat(m.modelFiles().folders("p")).hasSize(1);

      // refused while read, after a file was written: nothing of it is left, what served serves
      Body broken =
          new Body(
              Map.of("file:2/model.onnx", model),
              "{}",
              InferenceException.invalid("parameter 'file:2/x' is not valid base64"));
      assertThat(failure(m.loadRequest("p", broken))).hasMessageContaining("not valid base64");
      Body noConfig = new Body(Map.of("file:2/model.onnx", model), null, null);
      assertThat(failure(m.loadRequest("p", noConfig))).hasMessageContaining("needs the 'config'");
      Body emptyConfig = new Body(Map.of(), " ", null);
      assertThat(failure(m.loadRequest("p", emptyConfig)))
          .hasMessageContaining("'config' is empty");
      for (Body b : List.of(broken, noConfig, emptyConfig)) {
        assertThat(b.releases).hasValue(1);
      }
      assertThat(m.modelFiles().folders("p")).hasSize(1);
      assertThat(m.resolve("p", "").version()).isEqualTo(1);

      // no files: a load of the repository's model (none here), the pushed folder again
      Body plain = new Body(Map.of(), null, null);
      m.loadRequest("p", plain).get(10, TimeUnit.SECONDS);
      assertThat(plain.releases).hasValue(1);
      assertThat(m.resolve("p", "").version()).isEqualTo(1);
    } finally {
      control.shutdownNow();
    }

    // a load refused before it runs releases the body unread
    ModelManager none = manager(ControlMode.NONE);
    Body refused = new Body(Map.of(), "{}", null);
    assertThat(failure(none.loadRequest("q", refused)).code()).isEqualTo(ErrorCode.UNIMPLEMENTED);
    assertThat(refused.reads).hasValue(0);
    assertThat(refused.releases).hasValue(1);
  }

  @Test
  void aReloadOfTheSameVersionKeepsCountingWhereItsCopyLeftOff() throws Exception {
    writeModel("m", 1);
    ModelManager m = manager(ControlMode.EXPLICIT);
    m.start(List.of("m")).join();
    ModelVersion first = m.resolve("m", "");
    InferenceRequest r = request("m", "");
    first.scheduler().submit(r, RequestValidator.validate(first.config(), r)).get();
    long served = first.statistics().snapshot().success().count();
    assertThat(served).isEqualTo(1);

    m.load("m", "{\"max-batch-size\": 3}").join(); // a new configuration, the same version
    ModelVersion second = m.resolve("m", "");
    assertThat(second).isNotSameAs(first);
    assertThat(second.config().maxBatchSize()).isEqualTo(3);
    // the nv_inference_* counters read these: under the same labels they must not restart at 0
    assertThat(second.statistics().snapshot().success().count()).isEqualTo(served);
    InferenceRequest r2 = request("m", "");
    second.scheduler().submit(r2, RequestValidator.validate(second.config(), r2)).get();
    assertThat(second.statistics().snapshot().success().count()).isEqualTo(served + 1);
    // the live SLO accounting too (fulcrum_slo_rejections_total, the start window)...
    assertThat(second.sloAccounting()).isSameAs(first.sloAccounting());
    // ...unless the objective (or its price, or the instances) changed
    m.load("m", "{\"max-batch-size\": 3, \"slo\": {\"latency-ms\": 50}}").join();
    ModelVersion third = m.resolve("m", "");
    assertThat(third.sloAccounting()).isNotSameAs(second.sloAccounting());
    assertThat(third.statistics()).isSameAs(second.statistics());

    writeModel("m", 2); // a new version starts its own
    m.load("m", null).join();
    assertThat(m.resolve("m", "").version()).isEqualTo(2);
    assertThat(m.resolve("m", "").statistics().snapshot().success().count()).isZero();
  }

  private static void await(java.util.function.BooleanSupplier condition) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met in 10 s");
      }
      Thread.sleep(5);
    }
  }

  @Test
  void theStartupLoadBeginsWithTheLightestModelAloneThenTheOthersAtOnce() throws Exception {
    // "heavy" has the largest file, "big" two instances of a mid-sized one, "tiny" the smallest.
    FakeRuntime.writeModel(
        repo.resolve("heavy/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2", " ".repeat(5000));
    FakeRuntime.writeModel(
        repo.resolve("big/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2", " ".repeat(3000));
    Files.writeString(repo.resolve("big/config.yaml"), "instance-count: 2\n");
    writeModel("tiny", 1);
    ConcurrentLinkedQueue<Runnable> queued = new ConcurrentLinkedQueue<>();
    ModelManager m = manager(ControlMode.NONE, queued::add);

    CompletableFuture<Void> started = m.start(List.of());
    assertThat(queued).hasSize(1);
    queued.poll().run();
    assertThat(m.resolve("tiny", "").isReady()).isTrue();
    assertThat(events)
        .filteredOn(e -> e instanceof Loaded)
        .extracting(LifecycleEvent::model)
        .containsExactly("tiny");
    assertThat(queued).hasSize(2);
    for (Runnable r; (r = queued.poll()) != null; ) {
      r.run();
    }
    started.join();
    assertThat(m.allReady()).isTrue();
    assertThat(events)
        .filteredOn(e -> e instanceof Loaded)
        .extracting(LifecycleEvent::model)
        .containsExactlyInAnyOrder("tiny", "big", "heavy");
  }

  @Test
  void oneStartupLaneLoadsTheOthersByWeightEachAfterTheOneBefore() throws Exception {
    FakeRuntime.writeModel(
        repo.resolve("heavy/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2", " ".repeat(5000));
    FakeRuntime.writeModel(
        repo.resolve("big/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2", " ".repeat(3000));
    writeModel("tiny", 1);
    ConcurrentLinkedQueue<Runnable> queued = new ConcurrentLinkedQueue<>();
    ModelManager m = manager(ControlMode.NONE, queued::add);
    m.startupLanes(1);

    CompletableFuture<Void> started = m.start(List.of());
    for (String expected : List.of("tiny", "big", "heavy")) {
      assertThat(queued).hasSize(1); // each load alone
      queued.poll().run();
      assertThat(m.resolve(expected, "").isReady()).isTrue();
    }
    started.join();
    assertThat(m.allReady()).isTrue();
    assertThat(events)
        .filteredOn(e -> e instanceof Loaded)
        .extracting(LifecycleEvent::model)
        .containsExactly("tiny", "big", "heavy");
  }

  @Test
  void twoStartupLanesLoadTwoOfTheOthersAtOnceTheThirdAfterTheFirstOfThem() throws Exception {
    FakeRuntime.writeModel(
        repo.resolve("heavy/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2", " ".repeat(5000));
    FakeRuntime.writeModel(
        repo.resolve("big/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2", " ".repeat(3000));
    FakeRuntime.writeModel(
        repo.resolve("mid/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2", " ".repeat(1000));
    writeModel("tiny", 1);
    ConcurrentLinkedQueue<Runnable> queued = new ConcurrentLinkedQueue<>();
    ModelManager m = manager(ControlMode.NONE, queued::add);
    m.startupLanes(2);

    CompletableFuture<Void> started = m.start(List.of());
    assertThat(queued).hasSize(1); // the lightest alone
    queued.poll().run();
    assertThat(queued).hasSize(2); // mid and big, one per lane
    queued.poll().run(); // mid: its lane's next, heavy, may start
    assertThat(m.resolve("mid", "").isReady()).isTrue();
    assertThat(queued).hasSize(2);
    queued.poll().run();
    queued.poll().run();
    started.join();
    assertThat(m.allReady()).isTrue();
    assertThatThrownBy(() -> m.startupLanes(0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theOthersWaitForTheGateGivenTheLightestModelsLoad() throws Exception {
    FakeRuntime.writeModel(
        repo.resolve("heavy/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2", " ".repeat(5000));
    writeModel("tiny", 1);
    ConcurrentLinkedQueue<Runnable> queued = new ConcurrentLinkedQueue<>();
    ModelManager m = manager(ControlMode.NONE, queued::add);
    CompletableFuture<Void> gate = new CompletableFuture<>();
    List<Boolean> lightestDoneWhenAsked = new java.util.ArrayList<>();
    m.othersAfter(
        lightest -> {
          lightestDoneWhenAsked.add(lightest.isDone());
          return lightest.thenCompose(ignored -> gate);
        });

    CompletableFuture<Void> started = m.start(List.of());
    queued.poll().run();
    assertThat(m.resolve("tiny", "").isReady()).isTrue();
    assertThat(queued).isEmpty(); // "heavy" waits for the gate, not only for "tiny"
    assertThat(started).isNotDone();
    assertThat(m.allReady()).isFalse(); // readiness still counts the model not yet loaded

    gate.complete(null);
    assertThat(queued).hasSize(1);
    queued.poll().run();
    started.join();
    assertThat(m.allReady()).isTrue();
    assertThat(lightestDoneWhenAsked).containsExactly(false);
  }
}
