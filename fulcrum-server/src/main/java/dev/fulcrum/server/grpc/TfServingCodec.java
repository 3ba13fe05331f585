package dev.fulcrum.server.grpc;

import com.google.protobuf.Int64Value;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.ClientText;
import dev.fulcrum.server.codec.PredictDecoder;
import dev.fulcrum.server.grpc.tfserving.ModelSpec;
import dev.fulcrum.server.grpc.tfserving.PredictRequest;
import dev.fulcrum.server.grpc.tfserving.PredictResponse;
import dev.fulcrum.server.grpc.tfserving.TensorProto;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * TF Serving's {@code PredictRequest} to the core's request and the core's response to {@code
 * PredictResponse}; the tensors through {@link TfTensors}. Stateless, thread-safe.
 */
final class TfServingCodec {
  private TfServingCodec() {}

  /** A model spec's name; INVALID_ARGUMENT when it has none. */
  static String model(ModelSpec spec) {
    if (spec.getName().isEmpty()) {
      throw InferenceException.invalid("model_spec.name is required");
    }
    return spec.getName();
  }

  /**
   * A model spec's version as the core names versions: "" when it names none (the newest ready
   * one), its number otherwise. A version label is refused: Fulcrum has none.
   */
  static String version(ModelSpec spec) {
    return switch (spec.getVersionChoiceCase()) {
      case VERSION -> Long.toString(spec.getVersion().getValue());
      case VERSION_LABEL ->
          throw InferenceException.invalid(
              "model '%s': version labels are not served (version_label '%s'); name the version"
                  + " number in model_spec.version, or none for the newest",
              ClientText.printable(spec.getName(), 200),
              ClientText.printable(spec.getVersionLabel(), 100));
      case VERSIONCHOICE_NOT_SET -> "";
    };
  }

  /** Refuses a signature other than the one a Fulcrum model has (as the REST predict). */
  static void checkSignature(ModelSpec spec) {
    String s = spec.getSignatureName();
    if (!s.isEmpty() && !s.equals(PredictDecoder.DEFAULT_SIGNATURE)) {
      throw InferenceException.invalid(
          "model '%s' has no signature '%s': its one signature is '%s'",
          ClientText.printable(spec.getName(), 200),
          ClientText.printable(s, 200),
          PredictDecoder.DEFAULT_SIGNATURE);
    }
  }

  /**
   * The core's request for a predict request whose model spec the caller has checked ({@link
   * #model}, {@link #version}, {@link #checkSignature}): its inputs, the outputs of its {@code
   * output_filter} (none: every output), and the call's deadline as its timeout.
   *
   * @param model the spec's model, as {@link #model} answered it
   * @param version the spec's version, as {@link #version} answered it
   * @param deadlineMicros the call's remaining deadline, or -1 without one
   */
  static InferenceRequest decode(
      PredictRequest r, String model, String version, long deadlineMicros) {
    if (r.getInputsCount() == 0) {
      throw InferenceException.invalid("model '%s': the request has no inputs", model);
    }
    List<Tensor> inputs = new ArrayList<>(r.getInputsCount());
    for (Map.Entry<String, TensorProto> e : r.getInputsMap().entrySet()) {
      inputs.add(TfTensors.read(e.getKey(), e.getValue()));
    }
    List<RequestedOutput> outputs = new ArrayList<>(r.getOutputFilterCount());
    Set<String> seen = new HashSet<>();
    for (String name : r.getOutputFilterList()) {
      if (!seen.add(name)) {
        throw InferenceException.invalid(
            "model '%s': output_filter names '%s' twice", model, ClientText.printable(name, 200));
      }
      outputs.add(new RequestedOutput(name, Map.of()));
    }
    Map<String, Object> params = new LinkedHashMap<>();
    RequestOptions options = RequestOptions.parse(model, params);
    if (deadlineMicros >= 0) {
      long micros = Math.max(1, deadlineMicros);
      params.put(RequestOptions.TIMEOUT, micros);
      options = options.withTimeoutMicros(micros);
    }
    return new InferenceRequest(model, version, "", params, inputs, outputs, options);
  }

  /**
   * TF Serving's answer: the model spec that ran (its version, signature {@code serving_default})
   * and each output in its dtype's typed field.
   */
  static PredictResponse encode(InferenceResponse response) {
    PredictResponse.Builder b = PredictResponse.newBuilder().setModelSpec(spec(response));
    for (Tensor t : response.outputs()) {
      b.putOutputs(t.name(), TfTensors.write(t));
    }
    return b.build();
  }

  private static ModelSpec spec(InferenceResponse response) {
    ModelSpec.Builder s =
        ModelSpec.newBuilder()
            .setName(response.modelName())
            .setSignatureName(PredictDecoder.DEFAULT_SIGNATURE);
    Long v = number(response.modelVersion());
    if (v != null) {
      s.setVersion(Int64Value.of(v));
    }
    return s.build();
  }

  /** A version's number, or null for one that is not a number. */
  static @org.jspecify.annotations.Nullable Long number(String version) {
    try {
      return Long.parseLong(version);
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
