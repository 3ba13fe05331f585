package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.tensor.Fp32;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelRepositoryTest {
  @TempDir Path repo;

  private ModelRepository load(FakeRuntime runtime) {
    ModelRepository r =
        new ModelRepository(List.of(repo), List.of(runtime), new ModelConfigResolver(4, 32));
    r.loadAll();
    return r;
  }

  @Test
  void loadsVersionsByPolicyAndAutoCompletesBatching() throws Exception {
    for (int v : new int[] {1, 2, 3}) {
      FakeRuntime.writeModel(
          repo.resolve("m/" + v + "/model.onnx"), "in x FP32 -1,4", "out y FP32 -1,4");
    }
    Files.createDirectories(repo.resolve("m/01")); // not a version folder (leading zero)
    Files.createDirectories(repo.resolve("m/abc"));
    try (ModelRepository r = load(new FakeRuntime())) {
      assertThat(r.versions("m")).extracting(ModelVersion::version).containsExactly(3L);
      ModelVersion mv = r.resolve("m", "");
      assertThat(mv.config().maxBatchSize()).isEqualTo(32);
      assertThat(mv.config().inputs().get(0).dims()).containsExactly(4);
      assertThat(r.allReady()).isTrue();
      assertThatThrownBy(() -> r.resolve("m", "1"))
          .isInstanceOfSatisfying(
              InferenceException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
      assertThatThrownBy(() -> r.resolve("nope", ""))
          .isInstanceOfSatisfying(
              InferenceException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
    }
  }

  @Test
  void aBrokenModelDoesNotStopTheOthersAndItsReasonIsVisible() throws Exception {
    FakeRuntime.writeModel(repo.resolve("good/1/model.onnx"), "in x FP32 2", "out y FP32 2");
    FakeRuntime.writeModel(repo.resolve("bad/1/model.onnx"), "broken");
    Files.createDirectories(repo.resolve("empty"));
    FakeRuntime.writeModel(repo.resolve("badcfg/1/model.onnx"), "in x FP32 2", "out y FP32 2");
    Files.writeString(repo.resolve("badcfg/config.yaml"), "max-batch-size: 4\ninstnace-count: 2\n");
    try (ModelRepository r = load(new FakeRuntime())) {
      assertThat(r.resolve("good", "").isReady()).isTrue();
      assertThat(r.allReady()).isFalse();
      assertThat(r.index())
          .anySatisfy(
              s -> {
                assertThat(s.name()).isEqualTo("bad");
                assertThat(s.state()).isEqualTo(ModelState.UNAVAILABLE);
                assertThat(s.reason()).contains("protobuf parsing failed");
              })
          .anySatisfy(
              s -> {
                assertThat(s.name()).isEqualTo("empty");
                assertThat(s.reason()).contains("no version folders");
              })
          .anySatisfy(
              s -> {
                assertThat(s.name()).isEqualTo("badcfg");
                assertThat(s.reason()).contains("config.yaml").contains("instnace-count");
              });
      assertThatThrownBy(() -> r.resolve("bad", ""))
          .isInstanceOfSatisfying(
              InferenceException.class,
              e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
                assertThat(e.getMessage()).contains("protobuf parsing failed");
              });
    }
  }

  @Test
  void anEmptyOrMissingModelFileIsNamedAsSuchNotAsTheRuntimesParseError() throws Exception {
    // A zero-byte model.onnx (a copy not started, a failed download) got ONNX Runtime's words:
    // "ModelProto does not have a graph" after a C++ signature of its own source.
    Files.createDirectories(repo.resolve("zero/1"));
    Files.write(repo.resolve("zero/1/model.onnx"), new byte[0]);
    Files.createDirectories(repo.resolve("nofile/1"));
    try (ModelRepository r = load(new FakeRuntime())) {
      assertThat(r.index())
          .anySatisfy(
              s -> {
                assertThat(s.name()).isEqualTo("zero");
                assertThat(s.state()).isEqualTo(ModelState.UNAVAILABLE);
                assertThat(s.reason()).isEqualTo("model file zero/1/model.onnx is empty (0 bytes)");
              })
          .anySatisfy(
              s -> {
                assertThat(s.name()).isEqualTo("nofile");
                assertThat(s.reason()).isEqualTo("missing model file nofile/1/model.onnx");
              });
    }
  }

  @Test
  void aLinkToNothingAndAPolicyThatSelectsNoVersionAreNamed() throws Exception {
    // The link was skipped without a word; the policy's reason named neither file nor field.
    Files.createSymbolicLink(repo.resolve("gone"), repo.resolveSibling("no-such-model-folder"));
    FakeRuntime.writeModel(repo.resolve("pinned/1/model.onnx"), "in x FP32 2", "out y FP32 2");
    Files.writeString(repo.resolve("pinned/config.yaml"), "version-policy: {specific: [7]}\n");
    Files.writeString(repo.resolve("README.md"), "a plain file beside the models is ignored\n");
    try (ModelRepository r = load(new FakeRuntime())) {
      assertThat(r.index())
          .anySatisfy(
              s -> {
                assertThat(s.name()).isEqualTo("gone");
                assertThat(s.state()).isEqualTo(ModelState.UNAVAILABLE);
                assertThat(s.reason())
                    .isEqualTo("model folder 'gone' is a symbolic link to nothing");
              })
          .anySatisfy(
              s -> {
                assertThat(s.name()).isEqualTo("pinned");
                assertThat(s.reason())
                    .isEqualTo(
                        "pinned/config.yaml: field 'version-policy': selects none of the version"
                            + " folders [1]");
              })
          .noneSatisfy(s -> assertThat(s.name()).isEqualTo("README.md"));
    }
  }

  @Test
  void anIoFailureIsSaidInWordsNotAsTheBarePath() {
    // AccessDeniedException's message is the path alone: "cannot list m: m".
    assertThat(ModelManager.why(new java.nio.file.AccessDeniedException("/srv/models/m")))
        .isEqualTo("permission denied");
    assertThat(ModelManager.why(new java.io.IOException("disk on fire"))).isEqualTo("disk on fire");
  }

  @Test
  void maxBatchSizeOnANonBatchableModelFailsWithTheFieldNamed() throws Exception {
    FakeRuntime.writeModel(repo.resolve("m/1/model.onnx"), "in x FP32 2,3", "out y FP32 2,3");
    Files.writeString(repo.resolve("m/config.yaml"), "max-batch-size: 8\n");
    try (ModelRepository r = load(new FakeRuntime())) {
      assertThat(r.index().get(0).reason())
          .contains("config.yaml")
          .contains("max-batch-size")
          .contains("'x' has shape [2, 3]");
    }
  }

  @Test
  void anOutputsLabelsAreReadWhenItsVersionLoadsAndAMissingFileFailsTheLoad() throws Exception {
    FakeRuntime.writeModel(repo.resolve("m/1/model.onnx"), "in x FP32 -1,3", "out y FP32 -1,3");
    Files.writeString(repo.resolve("m/config.yaml"), "outputs:\n  - {name: y, labels: c.txt}\n");
    Files.writeString(repo.resolve("m/c.txt"), "cat\ndog\n");
    FakeRuntime.writeModel(repo.resolve("n/1/model.onnx"), "in x FP32 -1,3", "out y FP32 -1,3");
    Files.writeString(repo.resolve("n/config.yaml"), "outputs:\n  - {name: y, labels: gone.txt}\n");
    try (ModelRepository r = load(new FakeRuntime())) {
      assertThat(r.resolve("m", "").labels().forOutput("y")).containsExactly("cat", "dog");
      // An edited labels file is read again at the next poll (or load), as a config.yaml is.
      Files.writeString(repo.resolve("m/c.txt"), "cat\ndog\nbird\n");
      r.manager().poll().get(10, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(r.resolve("m", "").labels().forOutput("y")).containsExactly("cat", "dog", "bird");
      assertThat(r.index())
          .filteredOn(s -> s.name().equals("n"))
          .singleElement()
          .satisfies(
              s ->
                  assertThat(s.reason())
                      .contains("config.yaml", "outputs[0].labels", "no file 'gone.txt'")
                      .doesNotContain(repo.toString()));
    }
  }

  @Test
  void instancesShareTheCoresByDefault() throws Exception {
    FakeRuntime.writeModel(repo.resolve("m/1/model.onnx"), "in x FP32 -1", "out y FP32 -1");
    Files.writeString(repo.resolve("m/config.yaml"), "instance-count: 2\nmax-batch-size: 8\n");
    FakeRuntime rt = new FakeRuntime();
    try (ModelRepository r = load(rt)) {
      assertThat(r.resolve("m", "").scheduler().instanceCount()).isEqualTo(2);
      assertThat(rt.loaded).hasSize(2).allSatisfy(o -> assertThat(o.intraOpThreads()).isEqualTo(2));
    }
  }

  @Test
  void inferenceServiceRunsValidatesAndDrains() throws Exception {
    FakeRuntime.writeModel(repo.resolve("m/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
    try (ModelRepository r = load(new FakeRuntime())) {
      InferenceService svc = new InferenceService(r, true);
      assertThat(svc.isReady()).isTrue();
      InferenceResponse resp =
          svc.infer(
                  new InferenceRequest(
                      "m",
                      "",
                      "req-1",
                      null,
                      List.of(Fp32.tensor("x", new long[] {1, 2}, 1f, 2f)),
                      null))
              .get();
      assertThat(resp.id()).isEqualTo("req-1");
      assertThat(resp.modelVersion()).isEqualTo("1");
      assertThat(resp.outputs().get(0).name()).isEqualTo("y");
      assertThat(resp.outputs().get(0).data().getFloat(4)).isEqualTo(2f);

      assertThatThrownBy(
              () ->
                  svc.infer(
                          new InferenceRequest(
                              "m",
                              "",
                              "",
                              null,
                              List.of(Fp32.tensor("x", new long[] {1, 3}, 1f, 2f, 3f)),
                              null))
                      .get())
          .isInstanceOf(ExecutionException.class)
          .cause()
          .hasMessageContaining("input 'x' has shape [1, 3] but the model expects [-1, 2]");

      svc.beginDrain();
      assertThat(svc.isReady()).isFalse();
      assertThat(svc.awaitIdle(java.time.Duration.ofSeconds(5))).isTrue();
      assertThatThrownBy(
              () ->
                  svc.infer(
                          new InferenceRequest(
                              "m",
                              "",
                              "",
                              null,
                              List.of(Fp32.tensor("x", new long[] {1, 2}, 1f, 2f)),
                              null))
                      .get())
          .cause()
          .isInstanceOfSatisfying(
              InferenceException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
    }
  }

  @Test
  void anInventedMaxBatchSizeBoundsBatchesButNotALargerRequest() throws Exception {
    FakeRuntime.writeModel(repo.resolve("auto/1/model.onnx"), "in x FP32 -1", "out y FP32 -1");
    FakeRuntime.writeModel(repo.resolve("explicit/1/model.onnx"), "in x FP32 -1", "out y FP32 -1");
    Files.writeString(repo.resolve("explicit/config.yaml"), "max-batch-size: 32\n");
    try (ModelRepository r = load(new FakeRuntime())) {
      InferenceService svc = new InferenceService(r, true);
      float[] forty = new float[40];
      InferenceResponse ok =
          svc.infer(
                  new InferenceRequest(
                      "auto",
                      "",
                      "",
                      null,
                      List.of(Fp32.tensor("x", new long[] {40}, forty)),
                      null))
              .get();
      assertThat(ok.outputs().get(0).shape()).containsExactly(40);
      assertThatThrownBy(
              () ->
                  svc.infer(
                          new InferenceRequest(
                              "explicit",
                              "",
                              "",
                              null,
                              List.of(Fp32.tensor("x", new long[] {40}, forty)),
                              null))
                      .get())
          .cause()
          .hasMessageContaining("batch size 40, outside 1..32");
    }
  }

  @Test
  void aRequestAdmittedBeforeASwapRunsOnWhatServesAfterIt() throws Exception {
    FakeRuntime.writeModel(repo.resolve("m/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
    try (SchedulerEnvironment env = SchedulerEnvironment.system();
        ModelRepository r =
            new ModelRepository(
                List.of(repo),
                List.of(new FakeRuntime()),
                new ModelConfigResolver(4, 32),
                env,
                ModelRepository.Settings.defaults().withMode(ControlMode.EXPLICIT))) {
      r.manager().start(List.of("*")).join();
      InferenceService svc = new InferenceService(r, true);
      ModelVersion admitted = svc.admissionCheck("m", "");
      ModelVersion pinned = svc.admissionCheck("m", "1");

      FakeRuntime.writeModel(repo.resolve("m/2/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
      svc.load("m", null).join();
      assertThat(admitted.state()).isEqualTo(ModelState.UNLOADED);

      InferenceRequest unpinned =
          new InferenceRequest(
              "m", "", "", null, List.of(Fp32.tensor("x", new long[] {1, 2}, 1f, 2f)), null);
      assertThat(svc.infer(admitted, unpinned, null, null, null).get().modelVersion())
          .isEqualTo("2");
      InferenceRequest toOld =
          new InferenceRequest(
              "m", "1", "", null, List.of(Fp32.tensor("x", new long[] {1, 2}, 1f, 2f)), null);
      assertThatThrownBy(() -> svc.infer(pinned, toOld, null, null, null).get())
          .cause()
          .isInstanceOfSatisfying(
              InferenceException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
    }
  }
}
