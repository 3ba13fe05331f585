package dev.fulcrum.server.codec;

import dev.fulcrum.core.inference.InferenceRequest;
import java.util.Map;

/**
 * A decoded inference request plus what the transport needs to encode its response.
 *
 * @param request the request for the core
 * @param binaryByDefault whether outputs come back binary unless an output says otherwise (the
 *     request parameter {@code binary_data_output}, or a raw request)
 * @param binaryOutputs each output's explicit {@code binary_data} parameter
 */
public record DecodedInferRequest(
    InferenceRequest request, boolean binaryByDefault, Map<String, Boolean> binaryOutputs) {
  public DecodedInferRequest {
    binaryOutputs = Map.copyOf(binaryOutputs);
  }

  /** Whether an output is sent as binary data. FP16/BF16 always are. */
  public boolean binary(String output) {
    return binaryOutputs.getOrDefault(output, binaryByDefault);
  }
}
