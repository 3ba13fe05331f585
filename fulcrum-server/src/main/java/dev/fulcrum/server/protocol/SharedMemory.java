package dev.fulcrum.server.protocol;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;

/**
 * Triton's system and CUDA shared-memory extensions, which Fulcrum does not implement (they are not
 * in {@link ModelJson#EXTENSIONS}): the refusals both transports give, so that a Triton client that
 * registers a region, or names one on a tensor, is told so instead of being answered about missing
 * data. Stateless.
 */
public final class SharedMemory {
  private SharedMemory() {}

  /** The tensor parameter that names a registered region (tritonclient's set_shared_memory). */
  public static final String REGION = "shared_memory_region";

  private static final String INSTEAD =
      "; send the tensor data in the request (binary tensor data on REST, raw_input_contents on"
          + " gRPC)";

  /**
   * A tensor whose parameters name a shared-memory region: INVALID_ARGUMENT naming the tensor.
   *
   * @param tensor the input or requested output
   */
  public static InferenceException regionRefused(String tensor) {
    return InferenceException.invalid(
        "tensor '%s': the shared memory extensions are not supported (parameter '%s')%s",
        tensor, REGION, INSTEAD);
  }

  /**
   * A status, register or unregister call of a shared-memory extension: UNIMPLEMENTED (HTTP 501).
   *
   * @param cuda whether the call is the CUDA extension's, else the system one's
   */
  public static InferenceException callRefused(boolean cuda) {
    String extension = cuda ? "cuda_shared_memory" : "system_shared_memory";
    return new InferenceException(
        ErrorCode.UNIMPLEMENTED,
        (cuda ? "CUDA" : "system")
            + " shared memory is not supported: the server does not implement Triton's '"
            + extension
            + "' extension (GET v2 lists the ones it does)"
            + INSTEAD);
  }
}
