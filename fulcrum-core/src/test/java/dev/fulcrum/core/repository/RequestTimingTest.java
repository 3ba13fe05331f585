package dev.fulcrum.core.repository;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A request's timing through the service: a pass's times, its cost at the version's price, a
 * response-cache hit's, and none for a request that did not ask (relations only, no durations).
 */
class RequestTimingTest {
  @TempDir Path repo;

  private final SchedulerEnvironment env = SchedulerEnvironment.system();

  @AfterEach
  void closeEnvironment() {
    env.close();
  }

  private static InferenceRequest request(boolean timing, float... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    Tensor x = Tensor.of("x", DataType.FP32, new long[] {values.length / 2, 2}, b.flip());
    Map<String, Object> parameters = timing ? Map.of("timing", true) : Map.of();
    return new InferenceRequest("m", "", "id", parameters, List.of(x), null);
  }

  private ModelRepository serve(FakeRuntime runtime, double costPerHour, boolean cache)
      throws Exception {
    FakeRuntime.writeModel(repo.resolve("m/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
    Files.writeString(
        repo.resolve("m/config.yaml"),
        "max-batch-size: 8\n"
            + (cache ? "response-cache:\n  enabled: true\n  max-bytes: 65536\n" : ""));
    ModelRepository r =
        new ModelRepository(
            List.of(repo),
            List.of(runtime),
            new ModelConfigResolver(4, 32, costPerHour),
            env,
            ModelRepository.Settings.defaults().withMode(ControlMode.EXPLICIT));
    r.manager().start(List.of("*")).join();
    return r;
  }

  private static RequestTiming timing(@Nullable RequestTiming t) {
    assertThat(t).as("the request asked for its timing").isNotNull();
    return t;
  }

  @Test
  void aServiceThatTimesEveryRequestTimesOneThatDidNotAsk() throws Exception {
    try (ModelRepository r = serve(new FakeRuntime(), 0, false)) {
      InferenceService svc = new InferenceService(r, true, null, true);
      RequestTiming t = timing(svc.infer(request(false, 1, 2, 3, 4)).get().timing());
      assertThat(t.requestRows()).isEqualTo(2);
      assertThat(t.batchRows()).isGreaterThanOrEqualTo(2);
      assertThat(t.queueMicros() + t.computeMicros()).isLessThanOrEqualTo(t.totalMicros());
      assertThat(t.priced()).as("no price configured").isFalse();
      assertThat(timing(svc.infer(request(true, 1, 2)).get().timing()).requestRows()).isEqualTo(1);
    }
  }

  @Test
  void aPricedRequestIsChargedItsRowsAtTheVersionsCostPerPrediction() throws Exception {
    try (ModelRepository r = serve(new FakeRuntime(), 3.6, false)) {
      InferenceService svc = new InferenceService(r, true);
      InferenceResponse plain = svc.infer(request(false, 1, 2)).get();
      assertThat(plain.timing()).isNull();

      RequestTiming t = timing(svc.infer(request(true, 1, 2, 3, 4, 5, 6)).get().timing());
      assertThat(t.requestRows()).isEqualTo(3);
      assertThat(t.batchRows()).isGreaterThanOrEqualTo(3);
      assertThat(t.queueMicros() + t.computeMicros()).isLessThanOrEqualTo(t.totalMicros());
      assertThat(t.cacheHit()).isFalse();
      assertThat(t.priced()).isTrue();
      assertThat(t.costUsd()).isPositive();
      assertThat(r.resolve("m", "").costPerPredictionUsd()).isPositive();
    }
  }

  @Test
  void aTimingTakenOnlyForTheServerHasTheTimesButIsNotPriced() throws Exception {
    try (ModelRepository r = serve(new FakeRuntime(), 3.6, false)) {
      InferenceService svc = new InferenceService(r, true);
      InferenceRequest asked = request(false, 1, 2, 3, 4);
      InferenceRequest forTheServer = asked.withOptions(asked.options().withServerTiming());
      assertThat(forTheServer.options().timing()).isTrue();
      assertThat(forTheServer.options().costUsd()).isFalse();
      RequestTiming t = timing(svc.infer(forTheServer).get().timing());
      assertThat(t.requestRows()).isEqualTo(2);
      assertThat(t.queueMicros() + t.computeMicros()).isLessThanOrEqualTo(t.totalMicros());
      assertThat(t.priced()).as("no one reads its cost: not priced").isFalse();
      // A client's timing is priced as before, and --request-timing-always prices one the server
      // timed for itself.
      assertThat(timing(svc.infer(request(true, 1, 2)).get().timing()).priced()).isTrue();
      InferenceService always = new InferenceService(r, true, null, true);
      assertThat(timing(always.infer(forTheServer).get().timing()).priced()).isTrue();
    }
  }

  @Test
  void withoutAPriceThereIsNoCost() throws Exception {
    try (ModelRepository r = serve(new FakeRuntime(), 0, false)) {
      InferenceService svc = new InferenceService(r, true);
      RequestTiming t = timing(svc.infer(request(true, 1, 2)).get().timing());
      assertThat(t.priced()).isFalse();
      assertThat(t.costUsd()).isNaN();
    }
  }

  @Test
  void aCacheHitIsTimedAsItsLookupAndStillCosted() throws Exception {
    FakeRuntime runtime = new FakeRuntime();
    try (ModelRepository r = serve(runtime, 3.6, true)) {
      InferenceService svc = new InferenceService(r, true);
      RequestTiming ran = timing(svc.infer(request(true, 1, 2)).get().timing());
      assertThat(ran.cacheHit()).isFalse();
      assertThat(ran.batchRows()).isEqualTo(1);

      RequestTiming hit = timing(svc.infer(request(true, 1, 2)).get().timing());
      assertThat(runtime.executions.get()).as("answered from the cache").isEqualTo(1);
      assertThat(hit.cacheHit()).isTrue();
      assertThat(hit.queueMicros()).isZero();
      assertThat(hit.computeMicros()).isZero();
      assertThat(hit.batchRows()).as("no pass").isZero();
      assertThat(hit.requestRows()).isEqualTo(1);
      assertThat(hit.priced()).as("a hit is a prediction /slo counts").isTrue();

      // The cached answer does not carry the first request's timing to one that did not ask.
      assertThat(svc.infer(request(false, 1, 2)).get().timing()).isNull();
    }
  }
}
