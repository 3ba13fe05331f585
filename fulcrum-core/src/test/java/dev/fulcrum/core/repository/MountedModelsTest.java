package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Models loaded from folders under a root (SageMaker's multi-model endpoint): the folder checks,
 * the names kept, the conflict and the cap; loads run on the calling thread with the fake engine.
 */
class MountedModelsTest {
  @TempDir Path dir;

  private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
  private final AtomicLong now = new AtomicLong();
  private ModelManager manager;
  private MountedModels mounted;
  private Path root;

  @BeforeEach
  void start() throws Exception {
    root = Files.createDirectories(dir.resolve("root"));
    Path repo = Files.createDirectories(dir.resolve("repo"));
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
            List.of(new FakeRuntime()),
            new ModelConfigResolver(2, 8),
            env,
            Runnable::run,
            ControlMode.EXPLICIT);
    mounted = new MountedModels(manager, new MountedModels.Settings(root, 2));
    for (String m : List.of("a", "b", "c")) {
      FakeRuntime.writeModel(
          root.resolve(m + "/model/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
    }
    FakeRuntime.writeModel(
        dir.resolve("outside/model/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
  }

  @AfterEach
  void close() {
    manager.closeAll(Duration.ofSeconds(5));
    timer.shutdownNow();
  }

  private static ErrorCode failure(CompletableFuture<Void> f) {
    try {
      f.join();
    } catch (CompletionException e) {
      return ((InferenceException) e.getCause()).code();
    }
    throw new AssertionError("did not fail");
  }

  private String url(String m) {
    return root.resolve(m).resolve("model").toString();
  }

  @Test
  void loadsServesListsAndUnloads() {
    mounted.load("m-a", url("a")).join();
    assertThat(manager.versions("m-a")).hasSize(1);
    assertThat(mounted.get("m-a")).isEqualTo(new MountedModels.Mounted("m-a", url("a"), true));
    mounted.load("m-b", "b/model").join(); // relative to the root
    assertThat(mounted.list("", 1)).extracting(MountedModels.Mounted::name).containsExactly("m-a");
    assertThat(mounted.list("m-a", 5))
        .extracting(MountedModels.Mounted::name)
        .containsExactly("m-b");
    mounted.unload("m-a").join();
    assertThat(manager.versions("m-a")).isEmpty();
    assertThat(mounted.get("m-a")).isNull();
    assertThat(failure(mounted.unload("m-a"))).isEqualTo(ErrorCode.NOT_FOUND);
  }

  @Test
  void refusesASecondLoadOfANameAndOnePastTheCap() {
    mounted.load("m-a", url("a")).join();
    assertThat(failure(mounted.load("m-a", url("b")))).isEqualTo(ErrorCode.FAILED_PRECONDITION);
    mounted.load("m-b", url("b")).join();
    assertThat(failure(mounted.load("m-c", url("c")))).isEqualTo(ErrorCode.NO_CAPACITY);
    mounted.unload("m-b").join();
    mounted.load("m-c", url("c")).join();
  }

  @Test
  void aFailedLoadFreesItsName() throws Exception {
    Files.createDirectories(root.resolve("empty"));
    assertThat(failure(mounted.load("m-e", root.resolve("empty").toString())))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(mounted.list("", 10)).isEmpty();
    mounted.load("m-e", url("a")).join();
  }

  @Test
  void aRefusedFolderLeavesNoRowAndAModelUnloadedElsewhereIsForgotten() {
    assertThat(failure(mounted.load("m-x", dir.resolve("outside/model").toString())))
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(manager.index()).isEmpty();
    mounted.load("m-a", url("a")).join();
    mounted.load("m-b", url("b")).join();
    manager.unload("m-a").join(); // the repository API's unload, not this one's
    assertThat(mounted.get("m-a")).isNull();
    assertThat(mounted.list("", 10)).extracting(MountedModels.Mounted::name).containsExactly("m-b");
    assertThat(failure(mounted.unload("m-a"))).isEqualTo(ErrorCode.NOT_FOUND);
    mounted.load("m-a", url("a")).join(); // its name loads again: it counted no more (cap 2)
    assertThat(failure(mounted.load("m-c", url("c")))).isEqualTo(ErrorCode.NO_CAPACITY);
  }

  @Test
  void refusesTheRootItselfAndNamesOfTheRepository() throws Exception {
    assertThatThrownBy(() -> mounted.folder(root.toString()))
        .hasMessageContaining("url must name a folder under the root");
    assertThatThrownBy(() -> mounted.folder("."))
        .hasMessageContaining("url must name a folder under the root");
    // a repository model, not loaded (explicit mode): its name is the repository's
    FakeRuntime.writeModel(
        dir.resolve("repo/in-repo/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
    manager.start(List.of()).join(); // the start scans the repository
    assertThat(failure(mounted.load("in-repo", url("a")))).isEqualTo(ErrorCode.FAILED_PRECONDITION);
    assertThat(mounted.list("", 10)).isEmpty();
  }

  @Test
  void refusesFoldersOutsideTheRoot() throws Exception {
    assertThatThrownBy(() -> mounted.folder(root + "/../outside/model"))
        .hasMessageContaining("'..'");
    assertThatThrownBy(() -> mounted.folder(dir.resolve("outside/model").toString()))
        .hasMessageContaining("not under the model root");
    Files.createSymbolicLink(root.resolve("link"), dir.resolve("outside"));
    assertThatThrownBy(() -> mounted.folder(root.resolve("link/model").toString()))
        .hasMessageContaining("not under the model root");
    Path leaky = Files.createDirectories(root.resolve("leaky/model/1"));
    Files.createSymbolicLink(
        leaky.resolve("model.onnx"), dir.resolve("outside/model/1/model.onnx"));
    assertThatThrownBy(() -> mounted.folder(root.resolve("leaky/model").toString()))
        .hasMessageContaining("symbolic link out");
    assertThatThrownBy(() -> mounted.folder(root.resolve("nosuch").toString()))
        .isInstanceOfSatisfying(
            InferenceException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
    assertThatThrownBy(() -> mounted.folder(root.resolve("a/model/1/model.onnx").toString()))
        .hasMessageContaining("not a folder");
    // a link that stays under the root is followed
    Files.createSymbolicLink(root.resolve("alias"), root.resolve("a"));
    assertThat(mounted.folder(root.resolve("alias/model").toString()))
        .isEqualTo(root.toRealPath().resolve("a/model"));
  }

  @Test
  void namesAreWhatTheRepositoryTakes() {
    for (String bad : List.of("", "a/b", "a\\b", "..", "a\nb", "x".repeat(257))) {
      assertThatThrownBy(() -> MountedModels.checkName(bad))
          .as(bad)
          .isInstanceOfSatisfying(
              InferenceException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
    }
    MountedModels.checkName("fraud_classifier-v2.1");
  }
}
