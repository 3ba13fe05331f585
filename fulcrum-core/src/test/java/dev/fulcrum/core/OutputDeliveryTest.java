package dev.fulcrum.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.OutputDelivery;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.repository.EnsembleRepo;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A transport's {@link dev.fulcrum.core.inference.OutputDelivery} (Triton's shared memory outputs)
 * runs before the request is counted: one that throws fails the request, counted as a failure in
 * the model's statistics and its tenant's usage, never as a success, whatever answered it (a plain
 * model, the response cache, an ensemble, a sequence).
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
    return request("a", "x", tenant);
  }

  private static InferenceRequest request(String model, String input, Tenant tenant) {
    ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1).putFloat(2);
    return new InferenceRequest(
            model,
            "",
            "id",
            Map.of(),
            List.of(Tensor.of(input, DataType.FP32, new long[] {1, 2}, b.flip())),
            List.of(),
            RequestOptions.NONE)
        .withTenant(tenant);
  }

  private static final OutputDelivery TOO_SMALL =
      r -> {
        throw InferenceException.invalid("output 'y' does not fit");
      };

  /**
   * Sends {@code ok} with a delivery that takes its outputs, then {@code failing} with one that
   * throws: the first succeeds, the second fails with INVALID_ARGUMENT.
   */
  private static void deliverThenFail(
      InferenceService service, ModelVersion mv, InferenceRequest ok, InferenceRequest failing)
      throws Exception {
    AtomicReference<InferenceResponse> delivered = new AtomicReference<>();
    InferenceResponse answer =
        service.infer(mv, ok, null, null, delivered::set).get(10, TimeUnit.SECONDS);
    assertThat(delivered.get().outputs()).isEqualTo(answer.outputs());
    var failed = service.infer(mv, failing, null, null, TOO_SMALL);
    assertThatThrownBy(() -> failed.get(10, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
  }

  /**
   * Serves the repository and sends model {@code model} the request {@code first} makes with a
   * delivery that takes its outputs, then {@code second}'s with one that throws: one success and
   * one invalid failure in its statistics and its tenant's usage.
   *
   * @return the model's statistics after both
   */
  private ModelStatistics.Snapshot deliveredThenNot(
      String model,
      Function<Tenant, InferenceRequest> first,
      Function<Tenant, InferenceRequest> second)
      throws Exception {
    InferenceService service = serve();
    try {
      ModelVersion mv = service.admissionCheck(model, "");
      Tenant tenant = new Tenant("team");
      deliverThenFail(service, mv, first.apply(tenant), second.apply(tenant));
      countedOnceEach(mv, tenant);
      return mv.statistics().snapshot();
    } finally {
      service.repository().close();
    }
  }

  /** One success and one invalid failure in {@code mv}'s statistics, and in its tenant's usage. */
  private static void countedOnceEach(ModelVersion mv, Tenant tenant) {
    ModelStatistics.Snapshot s = mv.statistics().snapshot();
    assertThat(s.success().count()).as("success").isEqualTo(1);
    assertThat(s.fail().count()).as("fail").isEqualTo(1);
    assertThat(s.invalid()).as("invalid").isEqualTo(1);
    String model = mv.config().name();
    assertThat(tenant.usage().get(model).requests(Outcome.SUCCESS)).isEqualTo(1);
    assertThat(tenant.usage().get(model).requests(Outcome.CLIENT_ERROR)).isEqualTo(1);
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

  @Test
  void aCacheHitThatIsNotDeliveredCountsAsThatFailureNotAsAHit() throws Exception {
    FakeRuntime.writeModel(repo.resolve("c/1/model.onnx"), "in x FP32 -1,2", "out y FP32 -1,2");
    Files.writeString(
        repo.resolve("c/config.yaml"), "response-cache:\n  enabled: true\n  max-bytes: 65536\n");
    // the first runs and is cached; the second, the same inputs, is a hit not delivered
    ModelStatistics.Snapshot s =
        deliveredThenNot("c", t -> request("c", "x", t), t -> request("c", "x", t));
    assertThat(s.cacheHit().count()).isZero();
    assertThat(s.cacheMiss().count()).isEqualTo(1);
  }

  @Test
  void anEnsemblesAnswerThatIsNotDeliveredCountsAsThatFailure() throws Exception {
    EnsembleRepo.writeEnsemble(
        repo,
        "ens",
        """
        platform: ensemble
        max-batch-size: 8
        inputs: [{name: IN, datatype: FP32, dims: [2]}]
        outputs: [{name: OUT, datatype: FP32, dims: [2]}]
        ensemble:
          steps:
            - {model: a, input-map: {x: IN}, output-map: {y: OUT}}
        """);
    deliveredThenNot("ens", t -> request("ens", "IN", t), t -> request("ens", "IN", t));
  }

  @Test
  void aSequencesAnswerThatIsNotDeliveredCountsAsThatFailure() throws Exception {
    // y echoes x, h_out echoes h_in (the state)
    FakeRuntime.writeModel(
        repo.resolve("s/1/model.onnx"),
        "in x FP32 -1,2",
        "in h_in FP32 -1,1",
        "in start INT32 -1,1",
        "in id INT64 -1,1",
        "out y FP32 -1,2",
        "out h_out FP32 -1,1");
    Files.writeString(
        repo.resolve("s/config.yaml"),
        """
        max-batch-size: 4
        sequence-batching:
          control-inputs:
            - {name: start, kind: start}
            - {name: id, kind: corrid}
          states:
            - {input-name: h_in, output-name: h_out}
        """);
    deliveredThenNot("s", t -> sequence(t, 7), t -> sequence(t, 8));
  }

  /** A request of model {@code s} that starts and ends sequence {@code id}. */
  private static InferenceRequest sequence(Tenant tenant, long id) {
    InferenceRequest r = request("s", "x", tenant);
    return r.withOptions(
        RequestOptions.parse(
            "s",
            Map.of(
                RequestOptions.SEQUENCE_ID,
                id,
                RequestOptions.SEQUENCE_START,
                true,
                RequestOptions.SEQUENCE_END,
                true)));
  }
}
