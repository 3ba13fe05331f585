package dev.fulcrum.core.inference;

import dev.fulcrum.core.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The result of one request: the outputs asked for, in the order asked (or the model's order).
 *
 * @param modelName the model that ran
 * @param modelVersion the version that ran
 * @param id the request's id
 * @param parameters response parameters
 * @param outputs the output tensors
 */
public record InferenceResponse(
    String modelName,
    String modelVersion,
    String id,
    Map<String, Object> parameters,
    List<Tensor> outputs) {
  public InferenceResponse {
    Objects.requireNonNull(modelName, "modelName");
    Objects.requireNonNull(modelVersion, "modelVersion");
    id = id == null ? "" : id;
    parameters = parameters == null ? Map.of() : Map.copyOf(parameters);
    outputs = List.copyOf(outputs);
  }
}
