package dev.fulcrum.server.codec;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.server.shm.SharedMemoryOutput;
import java.util.Map;

/**
 * A decoded inference request plus what the transport needs to encode its response.
 *
 * @param request the request for the core
 * @param binaryByDefault whether outputs come back binary unless an output says otherwise (the
 *     request parameter {@code binary_data_output}, or a raw request)
 * @param binaryOutputs each output's explicit {@code binary_data} parameter
 * @param sharedMemoryOutputs the outputs asked into a shared memory region, by name (empty for a
 *     request that uses none); holding them holds their regions' mappings
 */
public record DecodedInferRequest(
    InferenceRequest request,
    boolean binaryByDefault,
    Map<String, Boolean> binaryOutputs,
    Map<String, SharedMemoryOutput> sharedMemoryOutputs) {
  public DecodedInferRequest {
    binaryOutputs = Map.copyOf(binaryOutputs);
    sharedMemoryOutputs = Map.copyOf(sharedMemoryOutputs);
  }

  public DecodedInferRequest(
      InferenceRequest request, boolean binaryByDefault, Map<String, Boolean> binaryOutputs) {
    this(request, binaryByDefault, binaryOutputs, Map.of());
  }

  /** Whether an output is sent as binary data. FP16/BF16 always are. */
  public boolean binary(String output) {
    return binaryOutputs.getOrDefault(output, binaryByDefault);
  }
}
