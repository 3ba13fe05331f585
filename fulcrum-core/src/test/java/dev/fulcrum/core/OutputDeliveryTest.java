package dev.fulcrum.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.repository.FakeRuntime;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.stats.ModelStatistics;
import dev.fulcrum.core.tenant.Outcome;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A transport's {@link dev.fulcrum.core.inference.OutputDelivery} (Triton's shared memory outputs)
 * runs before the request is counted: one that throws fails the request, counted as a failure in
 * the model's statistics and its tenant's usage, never as a success.
 */
class OutputDeliveryTest {
  @TempDir Path repo;

  private InferenceService serve() throws Exception {
    FakeRuntime.writeModel(repo.resolve("a/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
    ModelRepository r =
        new ModelRepository(
            List.of(repo), List.of(new FakeRuntime()), new ModelConfigResolver(4, 32));
    r.loadAll();
    return new InferenceService(r, false);
  }

  private static InferenceRequest request(Tenant tenant) {
    ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1).putFloat(2);
    return new InferenceRequest(
            "a",
            "",
            "id",
            Map.of(),
            List.of(Tensor.of("x", DataType.FP32, new long[] {1, 2}, b.flip())),
            List.of(),
            RequestOptions.NONE)
        .withTenant(tenant);
  }

  @Test
  void aDeliveryThatFailsFailsTheRequestAndIsCountedAsAFailure() throws Exception {
    InferenceService service = serve();
    try {
      ModelVersion mv = service.admissionCheck("a", "");
      Tenant tenant = new Tenant("team");
      AtomicReference<InferenceResponse> delivered = new AtomicReference<>();
      InferenceResponse ok =
          service.infer(mv, request(tenant), null, null, delivered::set).get(10, TimeUnit.SECONDS);
      assertThat(delivered.get().outputs()).isEqualTo(ok.outputs());

      var failed =
          service.infer(
              mv,
              request(tenant),
              null,
              null,
              r -> {
                throw InferenceException.invalid("output 'y' does not fit");
              });
      assertThatThrownBy(() -> failed.get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOfSatisfying(
              InferenceException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));

      ModelStatistics.Snapshot s = mv.statistics().snapshot();
      assertThat(s.success().count()).isEqualTo(1);
      assertThat(s.fail().count()).isEqualTo(1);
      assertThat(s.invalid()).isEqualTo(1);
      assertThat(s.inferenceCount()).as("both ran").isEqualTo(2);
      assertThat(tenant.usage().get("a").requests(Outcome.SUCCESS)).isEqualTo(1);
      assertThat(tenant.usage().get("a").requests(Outcome.CLIENT_ERROR)).isEqualTo(1);
    } finally {
      service.repository().close();
    }
  }
}
