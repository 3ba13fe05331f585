package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A canary rollout through the repository and the inference service, on the fake runtime: the
 * manager binds it to the two newest versions, the service splits and counts unversioned requests
 * and leaves pinned ones alone.
 */
class RolloutRoutingTest {
  @TempDir Path repo;

  private ModelRepository load() {
    ModelRepository r =
        new ModelRepository(
            List.of(repo), List.of(new FakeRuntime()), new ModelConfigResolver(4, 32));
    r.loadAll();
    return r;
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

  /** The version that answered, or "failed". */
  private static String answer(InferenceService svc, String model, String version) {
    CompletableFuture<InferenceResponse> f = svc.infer(request(model, version));
    try {
      return f.get().modelVersion();
    } catch (Exception e) {
      return "failed";
    }
  }

  private void twoVersions(String model, String v2Extra, String config) throws Exception {
    FakeRuntime.writeModel(
        repo.resolve(model + "/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
    if (v2Extra.isEmpty()) {
      FakeRuntime.writeModel(
          repo.resolve(model + "/2/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
    } else {
      FakeRuntime.writeModel(
          repo.resolve(model + "/2/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2", v2Extra);
    }
    Files.writeString(repo.resolve(model + "/config.yaml"), config);
  }

  @Test
  void unversionedRequestsAreSplitExactlyAndPinnedOnesAreNot() throws Exception {
    try (ModelRepository r = latestTwoAt20()) {
      InferenceService svc = new InferenceService(r, true);
      Rollout rollout = java.util.Objects.requireNonNull(r.rollout("m"), "the rollout");
      assertThat(rollout.canaryVersion()).isEqualTo(2);
      assertThat(rollout.stableVersion()).isEqualTo(1);
      assertThat(r.versions("m").get(0).rollout()).isSameAs(rollout);
      int canary = 0;
      for (int i = 0; i < 50; i++) {
        canary += answer(svc, "m", "").equals("2") ? 1 : 0;
      }
      assertThat(canary).isEqualTo(10);
      for (int i = 0; i < 10; i++) {
        assertThat(answer(svc, "m", "1")).isEqualTo("1");
        assertThat(answer(svc, "m", "2")).isEqualTo("2");
      }
      // metadata and readiness still read the newest version; only inference is split
      assertThat(r.resolve("m", "").version()).isEqualTo(2);
      awaitCounted(rollout, 50);
      assertThat(rollout.canaryStats().requests()).isEqualTo(10);
      assertThat(rollout.stableStats().requests()).isEqualTo(40);
    }
  }

  @Test
  void aCanaryWhosePassesFailIsRolledBack() throws Exception {
    twoVersions(
        "m",
        "fail-execute",
        "version-policy: {latest: 2}\nrollout: {canary-traffic-percent: 50, min-requests: 5}\n");
    try (ModelRepository r = load()) {
      InferenceService svc = new InferenceService(r, true);
      Rollout rollout = java.util.Objects.requireNonNull(r.rollout("m"), "the rollout");
      for (int i = 0; i < 20; i++) {
        assertThat(answer(svc, "m", "")).isIn("1", "failed");
      }
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (rollout.verdict() != Rollout.Verdict.ROLLED_BACK && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(rollout.verdict()).isEqualTo(Rollout.Verdict.ROLLED_BACK);
      assertThat(rollout.percent()).isZero();
      for (int i = 0; i < 20; i++) {
        assertThat(answer(svc, "m", "")).isEqualTo("1");
      }
    }
  }

  @Test
  void withOneVersionServingThereIsNoSplit() throws Exception {
    FakeRuntime.writeModel(repo.resolve("m/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
    Files.writeString(
        repo.resolve("m/config.yaml"),
        "version-policy: {latest: 2}\nrollout: {canary-traffic-percent: 50}\n");
    try (ModelRepository r = load()) {
      InferenceService svc = new InferenceService(r, true);
      assertThat(r.rollout("m")).isNull();
      assertThat(r.rollouts()).isEmpty();
      for (int i = 0; i < 10; i++) {
        assertThat(answer(svc, "m", "")).isEqualTo("1");
      }
    }
  }

  @Test
  void aModelWithoutRolloutHasNone() throws Exception {
    twoVersions("m", "", "version-policy: {latest: 2}\n");
    try (ModelRepository r = load()) {
      InferenceService svc = new InferenceService(r, true);
      assertThat(r.rollout("m")).isNull();
      for (int i = 0; i < 10; i++) {
        assertThat(answer(svc, "m", "")).isEqualTo("2");
      }
    }
  }

  @Test
  void aRescanWithNothingChangedKeepsTheRolloutAndANewerVersionStartsAnother() throws Exception {
    try (ModelRepository r = latestTwoAt20()) {
      Rollout first = java.util.Objects.requireNonNull(r.rollout("m"), "the rollout");
      first.rollBack("by the on-call");
      r.manager().poll().get();
      assertThat(r.rollout("m"))
          .as("nothing changed: the same rollout, its verdict kept")
          .isSameAs(first);
      assertThat(first.verdict()).isEqualTo(Rollout.Verdict.ROLLED_BACK);

      Rollout next = thirdVersion(r);
      assertThat(next).isNotSameAs(first);
      assertThat(next.canaryVersion()).isEqualTo(3);
      assertThat(next.stableVersion())
          .as("the rolled-back version 2 is no baseline: version 1 served well")
          .isEqualTo(1);
      assertThat(next.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING);
      assertThat(next.percent()).isEqualTo(20);
      assertThat(next.rolledBackCount()).as("the verdict counters carry on").isEqualTo(1);
      assertThat(r.versions("m").stream().map(ModelVersion::version))
          .as("latest: 2 keeps the good version loaded, not the bad one")
          .containsExactly(3L, 1L);
      InferenceService svc = new InferenceService(r, true);
      next.rollBack("3 is bad too");
      for (int i = 0; i < 10; i++) {
        assertThat(answer(svc, "m", "")).as("a known-bad version never takes all").isEqualTo("1");
      }
    }
  }

  @Test
  void aVersionPromotedLastIsTheNextBaseline() throws Exception {
    try (ModelRepository r = latestTwoAt20()) {
      java.util.Objects.requireNonNull(r.rollout("m"), "the rollout").promote("");
      Rollout next = thirdVersion(r);
      assertThat(next.canaryVersion()).isEqualTo(3);
      assertThat(next.stableVersion()).isEqualTo(2);
    }
  }

  @Test
  void aRolledBackCanarySetGoingAgainByHandIsAGoodVersionAgain() throws Exception {
    try (ModelRepository r = latestTwoAt20()) {
      Rollout first = java.util.Objects.requireNonNull(r.rollout("m"), "the rollout");
      first.rollBack("");
      first.setPercent(20); // the on-call found the breach was the network's, not version 2's
      assertThat(thirdVersion(r).stableVersion()).isEqualTo(2);
    }
  }

  @Test
  void underEveryVersionTheBaselineSkipsTheRolledBackOne() throws Exception {
    twoVersions("m", "", "version-policy: {all: true}\nrollout: {canary-traffic-percent: 50}\n");
    try (ModelRepository r = load()) {
      java.util.Objects.requireNonNull(r.rollout("m")).rollBack("");
      Rollout next = thirdVersion(r);
      assertThat(next.stableVersion()).isEqualTo(1);
      assertThat(r.versions("m")).hasSize(3);
      InferenceService svc = new InferenceService(r, true);
      for (int i = 0; i < 20; i++) {
        assertThat(answer(svc, "m", "")).isIn("1", "3");
      }
      assertThat(answer(svc, "m", "2")).as("pinned requests still reach it").isEqualTo("2");
    }
  }

  @Test
  void whereNoGoodVersionServesTheRolledBackOneIsTheBaselineStill() throws Exception {
    twoVersions(
        "m", "", "version-policy: {specific: [1, 2]}\nrollout: {canary-traffic-percent: 20}\n");
    try (ModelRepository r = load()) {
      java.util.Objects.requireNonNull(r.rollout("m")).rollBack("");
      Files.writeString(
          repo.resolve("m/config.yaml"),
          "version-policy: {specific: [2, 3]}\nrollout: {canary-traffic-percent: 20}\n");
      Rollout next = thirdVersion(r);
      assertThat(next.canaryVersion()).isEqualTo(3);
      assertThat(next.stableVersion()).as("the operator's versions, with a WARN").isEqualTo(2);
    }
  }

  @Test
  void aChangedRolloutSectionStartsTheRolloutFromItAsNowWritten() throws Exception {
    // what a restart with an edited config.yaml does too: the rollout starts from the file
    try (ModelRepository r = latestTwoAt20()) {
      Rollout first = java.util.Objects.requireNonNull(r.rollout("m"));
      first.rollBack("");
      Files.writeString(
          repo.resolve("m/config.yaml"),
          "version-policy: {latest: 2}\nrollout: {canary-steps: [10, 40]}\n");
      r.manager().poll().get();
      Rollout next = java.util.Objects.requireNonNull(r.rollout("m"));
      assertThat(next).isNotSameAs(first);
      assertThat(next.verdict()).isEqualTo(Rollout.Verdict.PROGRESSING);
      assertThat(next.percent()).isEqualTo(10);
      assertThat(next.step()).isZero();
      assertThat(next.config().canarySteps()).containsExactly(10, 40);
    }
  }

  /** Adds version 3 to model m's folder, has the manager see it, and returns m's rollout then. */
  private Rollout thirdVersion(ModelRepository r) throws Exception {
    FakeRuntime.writeModel(repo.resolve("m/3/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
    r.manager().poll().get();
    return java.util.Objects.requireNonNull(r.rollout("m"), "the rollout after version 3");
  }

  /** Model m's versions 1 and 2 under latest: 2 and a 20 % canary, loaded. */
  private ModelRepository latestTwoAt20() throws Exception {
    twoVersions("m", "", "version-policy: {latest: 2}\nrollout: {canary-traffic-percent: 20}\n");
    return load();
  }

  /** Waits until the rollout has counted {@code n} outcomes (counted as the answers complete). */
  private static void awaitCounted(Rollout rollout, long n) throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (rollout.canaryStats().requests() + rollout.stableStats().requests() < n
        && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
  }
}
