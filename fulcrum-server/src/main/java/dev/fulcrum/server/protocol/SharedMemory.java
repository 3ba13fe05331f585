package dev.fulcrum.server.protocol;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.server.shm.SharedMemoryRegistry;

/**
 * Triton's CUDA shared memory extension, which Fulcrum (a CPU server) answers as Triton built
 * without GPUs does: the status lists no region, unregister has nothing to do, and register is
 * refused with Triton's words, which tritonclient shows to its caller. The system extension is
 * {@link dev.fulcrum.server.shm.SharedMemoryRegistry}'s. Stateless.
 */
public final class SharedMemory {
  private SharedMemory() {}

  /**
   * A CUDA register call: INVALID_ARGUMENT, as Triton without GPUs (or Triton's refusal when client
   * shared memory is off).
   */
  public static InferenceException cudaRegisterRefused(String region, boolean allowed) {
    if (!allowed) {
      return new InferenceException(ErrorCode.UNIMPLEMENTED, SharedMemoryRegistry.DISABLED);
    }
    return InferenceException.invalid(
        "failed to register CUDA shared memory region: '%s', GPUs not supported; this server has"
            + " no CUDA shared memory: use system shared memory (register_system_shared_memory)"
            + " or send the tensor data in the request",
        region);
  }

  /**
   * A CUDA unregister call: nothing is registered, so nothing to do (Triton without GPUs answers it
   * successfully), unless client shared memory is off.
   *
   * @throws InferenceException UNIMPLEMENTED when client shared memory is off
   */
  public static void cudaUnregister(boolean allowed) {
    if (!allowed) {
      throw new InferenceException(ErrorCode.UNIMPLEMENTED, SharedMemoryRegistry.DISABLED);
    }
  }
}
