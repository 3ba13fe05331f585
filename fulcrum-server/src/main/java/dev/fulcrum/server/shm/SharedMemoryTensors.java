package dev.fulcrum.server.shm;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The tensor parameters of Triton's shared memory extensions, read the same way for both
 * transports: an input whose parameters name a region is read from it, a requested output that
 * names one is written into it ({@link SharedMemoryOutput}). A request that names no region never
 * gets past {@link #names}, one map lookup. Stateless.
 */
public final class SharedMemoryTensors {
  private SharedMemoryTensors() {}

  /** The parameter naming a registered region. */
  public static final String REGION = "shared_memory_region";

  /** The parameter giving the tensor's offset in the region (optional, 0). */
  public static final String OFFSET = "shared_memory_offset";

  /** The parameter giving the tensor's size in bytes in the region (required with a region). */
  public static final String BYTE_SIZE = "shared_memory_byte_size";

  /** Whether a tensor's parameters name a region (the hot path's only check). */
  public static boolean names(Map<String, Object> parameters) {
    return parameters.containsKey(REGION);
  }

  /**
   * Where a tensor's parameters place it.
   *
   * @param what "input 'x'" or "output 'x'", for messages
   * @throws InferenceException INVALID_ARGUMENT for a malformed parameter, NOT_FOUND for a region
   *     not registered, INVALID_ARGUMENT for a range outside the region
   */
  public static Placement placement(
      String what, Map<String, Object> parameters, SharedMemoryRegistry registry) {
    Object region = parameters.get(REGION);
    if (!(region instanceof String name) || name.isEmpty()) {
      throw InferenceException.invalid(
          "%s: parameter '%s' must be the name of a registered region (a string)", what, REGION);
    }
    Object size = parameters.get(BYTE_SIZE);
    if (size == null) {
      throw InferenceException.invalid(
          "%s: parameter '%s' is required with '%s'", what, BYTE_SIZE, REGION);
    }
    long byteSize = nonNegative(what, BYTE_SIZE, size);
    Object at = parameters.get(OFFSET);
    long offset = at == null ? 0 : nonNegative(what, OFFSET, at);
    SharedMemoryRegion r = registry.region(name);
    r.checkBounds(offset, byteSize);
    return new Placement(r, offset, byteSize);
  }

  private static long nonNegative(String what, String parameter, Object value) {
    if (!(value instanceof Long n) || n < 0) {
      throw InferenceException.invalid(
          "%s: parameter '%s' must be a non-negative integer, was %s", what, parameter, value);
    }
    return n;
  }

  /**
   * What the inputs of one request have taken from regions so far: together they may take at most
   * what the server takes in one request ({@link SharedMemoryRegistry#maxInputBytes}), as their
   * copies are the request's own buffers, as a body's would be. One request's, on the thread that
   * decodes it; not thread-safe.
   */
  public static final class Taken {
    private long bytes;

    /** The bytes taken so far. */
    public long bytes() {
      return bytes;
    }
  }

  /**
   * Reads an input from its placement: one copy into a buffer the tensor owns, so that the request
   * holds nothing of the region once decoded. The bounds are checked before anything is copied.
   *
   * @param taken what the request's earlier inputs took from regions; this input's bytes are added
   * @throws InferenceException INVALID_ARGUMENT when the byte size does not fit the shape,
   *     RESOURCE_EXHAUSTED (413) when the request's inputs in regions would take more than one
   *     request may
   */
  public static Tensor input(
      String name,
      DataType type,
      long[] shape,
      Placement p,
      SharedMemoryRegistry registry,
      Taken taken) {
    long max = registry.maxInputBytes();
    if (p.byteSize() > max - taken.bytes) {
      // The copy below is the request's own buffer: bounded as a body is, or a client naming a
      // large region (or many inputs in regions) would take direct memory no request limit allows.
      throw new InferenceException(
          ErrorCode.TOO_LARGE,
          taken.bytes == 0
              ? String.format(
                  "input '%s': %s is %d bytes, more than the %d bytes this server takes in one"
                      + " request (--http-max-input-size, --grpc-max-message-size)",
                  name, BYTE_SIZE, p.byteSize(), max)
              : String.format(
                  "input '%s': %s is %d bytes, and the request's inputs in shared memory before"
                      + " it take %d: together more than the %d bytes this server takes in one"
                      + " request (--http-max-input-size, --grpc-max-message-size)",
                  name, BYTE_SIZE, p.byteSize(), taken.bytes, max));
    }
    if (type.isFixedSize()) {
      long count;
      try {
        count = Arrays.stream(shape).reduce(1, Math::multiplyExact);
      } catch (ArithmeticException e) {
        count = -1;
      }
      long expected = count < 0 ? -1 : Tensor.sizeInBytes(name, type, shape, count);
      if (expected != p.byteSize()) {
        throw InferenceException.invalid(
            "input '%s': %s is %d but shape %s of %s needs %d bytes",
            name, BYTE_SIZE, p.byteSize(), Arrays.toString(shape), type, expected);
      }
    }
    ByteBuffer bytes = p.region().read(p.offset(), p.byteSize());
    taken.bytes += p.byteSize();
    try {
      return Tensor.of(name, type, shape, bytes);
    } catch (InferenceException e) {
      throw InferenceException.invalid(
          "input '%s' in shared memory region '%s' (offset %d, %d bytes): %s",
          name, p.region().name(), p.offset(), p.byteSize(), e.getMessage());
    }
  }

  /**
   * A requested output's placement, checked as Triton checks it: not with {@code classification},
   * nor with {@code binary_data} true.
   */
  public static SharedMemoryOutput output(
      String name, Map<String, Object> parameters, SharedMemoryRegistry registry) {
    String what = "output '" + name + "'";
    if (parameters.containsKey("classification")) {
      throw InferenceException.invalid(
          "%s: Output can't set both '%s' and 'classification'", what, REGION);
    }
    if (Boolean.TRUE.equals(parameters.get("binary_data"))) {
      throw InferenceException.invalid(
          "%s: Output can't set both '%s' and 'binary_data'", what, REGION);
    }
    return new SharedMemoryOutput(name, placement(what, parameters, registry));
  }

  /**
   * A tensor's range in a region. Holding it holds the region's mapping.
   *
   * @param region the region, resolved when the request was decoded
   * @param offset the tensor's first byte in the region
   * @param byteSize the bytes the tensor may take
   */
  public record Placement(SharedMemoryRegion region, long offset, long byteSize) {}

  /** The registry, or the refusal for a server that has none. */
  public static SharedMemoryRegistry requireRegistry(
      @Nullable SharedMemoryRegistry registry, String what) {
    if (registry == null) {
      throw InferenceException.invalid(
          "%s: the system shared memory extension is not available on this server (parameter"
              + " '%s'); send the tensor data in the request",
          what, REGION);
    }
    return registry;
  }
}
