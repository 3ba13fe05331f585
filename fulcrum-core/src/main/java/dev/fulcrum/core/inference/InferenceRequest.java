package dev.fulcrum.core.inference;

import dev.fulcrum.core.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One inference request as every transport hands it to the core.
 *
 * @param modelName the model to run
 * @param modelVersion an explicit version, or empty for the version policy's newest ready one
 * @param id the client's request id, echoed in the response ("" when none)
 * @param parameters request parameters (values are String, Long, Double or Boolean)
 * @param inputs the input tensors
 * @param outputs the outputs asked for; empty means all of the model's outputs
 * @param options what the request asks of the scheduler, parsed once from {@code parameters}
 */
public record InferenceRequest(
    String modelName,
    String modelVersion,
    String id,
    Map<String, Object> parameters,
    List<Tensor> inputs,
    List<RequestedOutput> outputs,
    RequestOptions options) {
  public InferenceRequest {
    Objects.requireNonNull(modelName, "modelName");
    modelVersion = modelVersion == null ? "" : modelVersion;
    id = id == null ? "" : id;
    parameters = parameters == null ? Map.of() : Map.copyOf(parameters);
    inputs = List.copyOf(inputs);
    outputs = outputs == null ? List.of() : List.copyOf(outputs);
    Objects.requireNonNull(options, "options");
  }

  /**
   * A request whose options are parsed from its parameters ({@link RequestOptions#parse}).
   *
   * @throws dev.fulcrum.core.error.InferenceException INVALID_ARGUMENT for a bad option
   */
  public InferenceRequest(
      String modelName,
      String modelVersion,
      String id,
      Map<String, Object> parameters,
      List<Tensor> inputs,
      List<RequestedOutput> outputs) {
    this(
        modelName,
        modelVersion,
        id,
        parameters,
        inputs,
        outputs,
        RequestOptions.parse(modelName, parameters == null ? Map.of() : parameters));
  }

  /** This request with its options replaced (its parameters are left as they are). */
  public InferenceRequest withOptions(RequestOptions o) {
    return new InferenceRequest(modelName, modelVersion, id, parameters, inputs, outputs, o);
  }
}
