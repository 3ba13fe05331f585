package dev.fulcrum.core.inference;

import dev.fulcrum.core.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The result of one request: the outputs asked for, in the order asked (or the model's order).
 *
 * @param modelName the model that ran
 * @param modelVersion the version that ran
 * @param id the request's id
 * @param parameters response parameters
 * @param outputs the output tensors
 * @param timing where its time and money went, when the request asked ({@link
 *     RequestOptions#timing}); null otherwise, so that a request that did not ask costs nothing
 */
public record InferenceResponse(
    String modelName,
    String modelVersion,
    String id,
    Map<String, Object> parameters,
    List<Tensor> outputs,
    @Nullable RequestTiming timing) {
  public InferenceResponse {
    Objects.requireNonNull(modelName, "modelName");
    Objects.requireNonNull(modelVersion, "modelVersion");
    id = id == null ? "" : id;
    parameters = parameters == null ? Map.of() : Map.copyOf(parameters);
    outputs = List.copyOf(outputs);
  }

  /** A response without timing (its request did not ask for it). */
  public InferenceResponse(
      String modelName,
      String modelVersion,
      String id,
      Map<String, Object> parameters,
      List<Tensor> outputs) {
    this(modelName, modelVersion, id, parameters, outputs, null);
  }

  /** This response with its timing replaced. */
  public InferenceResponse withTiming(@Nullable RequestTiming t) {
    return new InferenceResponse(modelName, modelVersion, id, parameters, outputs, t);
  }
}
