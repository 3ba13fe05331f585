package dev.fulcrum.core.inference;

import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

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
 * @param tenant who sent it, set by the transport after the token check ({@link #withTenant}),
 *     never from what the request says; null on a server without tokens (nothing is charged)
 */
public record InferenceRequest(
    String modelName,
    String modelVersion,
    String id,
    Map<String, Object> parameters,
    List<Tensor> inputs,
    List<RequestedOutput> outputs,
    RequestOptions options,
    @Nullable Tenant tenant) {
  public InferenceRequest {
    Objects.requireNonNull(modelName, "modelName");
    modelVersion = modelVersion == null ? "" : modelVersion;
    id = id == null ? "" : id;
    parameters = parameters == null ? Map.of() : Map.copyOf(parameters);
    inputs = List.copyOf(inputs);
    outputs = outputs == null ? List.of() : List.copyOf(outputs);
    Objects.requireNonNull(options, "options");
  }

  /** A request of no tenant. */
  public InferenceRequest(
      String modelName,
      String modelVersion,
      String id,
      Map<String, Object> parameters,
      List<Tensor> inputs,
      List<RequestedOutput> outputs,
      RequestOptions options) {
    this(modelName, modelVersion, id, parameters, inputs, outputs, options, null);
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
    return new InferenceRequest(
        modelName, modelVersion, id, parameters, inputs, outputs, o, tenant);
  }

  /**
   * This request charged to {@code t} (the transport's, after the token check); this one itself
   * when that is its tenant already (no tenant on a server without tenants: nothing is allocated).
   */
  public InferenceRequest withTenant(@Nullable Tenant t) {
    return t == tenant
        ? this
        : new InferenceRequest(
            modelName, modelVersion, id, parameters, inputs, outputs, options, t);
  }
}
