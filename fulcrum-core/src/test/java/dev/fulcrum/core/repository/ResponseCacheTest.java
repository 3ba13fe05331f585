package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.stats.ModelStatistics;
import dev.fulcrum.core.tensor.Fp32;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The response cache: hits and misses, its bound in bytes, and a swap that empties it. */
class ResponseCacheTest {
  @TempDir Path repo;

  private static InferenceRequest request(float... values) {
    return new InferenceRequest("m", "", "id", null, List.of(Fp32.row("x", values)), null);
  }

  @Test
  void identicalRequestsHitDifferentOnesMissAndTheBoundHolds() {
    ResponseCache cache = new ResponseCache("m", 1, 4096);
    List<Tensor> in = List.of(Fp32.row("x", 1, 2));
    ResponseCache.Key key = cache.key(in, List.of(), List.of("y"));
    assertThat(cache.get(key, "a")).isNull();
    cache.put(key, new InferenceResponse("m", "1", "a", Map.of(), List.of(Fp32.row("y", 3, 4))));
    InferenceResponse hit =
        cache.get(cache.key(List.of(Fp32.row("x", 1, 2)), List.of(), List.of("y")), "b");
    assertThat(hit).isNotNull();
    assertThat(hit.id()).isEqualTo("b");
    assertThat(hit.outputs().get(0).data().getFloat(4)).isEqualTo(4f);
    // Other bytes, or another output asked for, are other keys.
    assertThat(cache.get(cache.key(List.of(Fp32.row("x", 1, 3)), List.of(), List.of("y")), "c"))
        .isNull();
    assertThat(
            cache.get(
                cache.key(
                    in,
                    List.of(new RequestedOutput("y", Map.of("classification", 2L))),
                    List.of("y")),
                "d"))
        .isNull();

    for (int i = 0; i < 1000; i++) {
      cache.put(
          cache.key(List.of(Fp32.row("x", i)), List.of(), List.of("y")),
          new InferenceResponse("m", "1", "", Map.of(), List.of(Fp32.row("y", new float[64]))));
      assertThat(cache.weightedBytes()).isLessThanOrEqualTo(cache.maxBytes());
    }
    assertThat(cache.entries()).isBetween(1L, 10L);
    // A response larger than the whole bound is not kept.
    ResponseCache.Key big = cache.key(List.of(Fp32.row("x", -1)), List.of(), List.of("y"));
    cache.put(
        big,
        new InferenceResponse("m", "1", "", Map.of(), List.of(Fp32.row("y", new float[2048]))));
    assertThat(cache.get(big, "")).isNull();
  }

  @Test
  void theServiceAnswersRepeatsFromTheCacheAndASwapEmptiesIt() throws Exception {
    FakeRuntime runtime = new FakeRuntime();
    FakeRuntime.writeModel(repo.resolve("m/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
    Files.writeString(
        repo.resolve("m/config.yaml"),
        "max-batch-size: 8\nresponse-cache:\n  enabled: true\n  max-bytes: 65536\n");
    try (SchedulerEnvironment env = SchedulerEnvironment.system();
        ModelRepository r =
            new ModelRepository(
                List.of(repo),
                List.of(runtime),
                new ModelConfigResolver(4, 32),
                env,
                ModelRepository.Settings.defaults().withMode(ControlMode.EXPLICIT))) {
      r.manager().start(List.of("*")).join();
      InferenceService svc = new InferenceService(r, true);
      for (int i = 0; i < 3; i++) {
        assertThat(svc.infer(request(1, 2)).get().outputs().get(0).data().getFloat(4))
            .isEqualTo(2f);
      }
      svc.infer(request(5, 6)).get();
      assertThat(runtime.executions.get()).isEqualTo(2);
      ModelStatistics.Snapshot s = r.resolve("m", "").statistics().snapshot();
      assertThat(s.cacheHit().count()).isEqualTo(2);
      assertThat(s.cacheMiss().count()).isEqualTo(2);
      assertThat(s.success().count()).isEqualTo(4);

      // A new version serves with an empty cache: the old answers are not reused.
      FakeRuntime.writeModel(repo.resolve("m/2/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
      svc.load("m", null).join();
      InferenceResponse after = svc.infer(request(1, 2)).get();
      assertThat(after.modelVersion()).isEqualTo("2");
      assertThat(runtime.executions.get()).isEqualTo(3);
      assertThat(r.resolve("m", "").statistics().snapshot().cacheMiss().count()).isEqualTo(1);
      assertThat(r.resolve("m", "").responseCache().entries()).isEqualTo(1);
    }
  }
}
