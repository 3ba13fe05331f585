package dev.fulcrum.server.shm;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.OutputDelivery;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.tensor.Tensor;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A requested output to be written into a region instead of the response: resolved when the request
 * is decoded (so the region's mapping is held by the request), written once the model answered,
 * each request's own output after a batched pass was split. Immutable; {@link #write} may run on
 * any thread.
 *
 * @param name the output
 * @param placement where it goes
 */
public record SharedMemoryOutput(String name, SharedMemoryTensors.Placement placement) {

  /**
   * Writes the output's bytes into its range.
   *
   * @throws InferenceException INVALID_ARGUMENT when the range is too small (Triton's words)
   */
  public void write(Tensor t) {
    long room = placement.byteSize();
    if (t.byteSize() > room) {
      throw InferenceException.invalid(
          "shared memory size specified with the request for output '%s' (%d bytes) should be at"
              + " least %d bytes to hold the results",
          name, room, t.byteSize());
    }
    placement.region().write(placement.offset(), t.unsafeData());
  }

  /**
   * The output's parameters in the response, which carries no data for it: the region, the bytes
   * written, and the offset when not 0.
   */
  public Map<String, Object> responseParameters(Tensor t) {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put(SharedMemoryTensors.REGION, placement.region().name());
    p.put(SharedMemoryTensors.BYTE_SIZE, (long) t.byteSize());
    if (placement.offset() != 0) {
      p.put(SharedMemoryTensors.OFFSET, placement.offset());
    }
    return p;
  }

  /**
   * The placements of the requested outputs that name a region: empty, without allocating, for a
   * request that names none (one map lookup per output).
   *
   * @param registry the server's regions; null: such an output is refused
   * @throws InferenceException as {@link SharedMemoryTensors#output}
   */
  public static Map<String, SharedMemoryOutput> placements(
      List<RequestedOutput> outputs, @Nullable SharedMemoryRegistry registry) {
    Map<String, SharedMemoryOutput> placed = Map.of();
    for (int i = 0, n = outputs.size(); i < n; i++) {
      RequestedOutput o = outputs.get(i);
      if (SharedMemoryTensors.names(o.parameters())) {
        if (placed.isEmpty()) {
          placed = new HashMap<>();
        }
        String what = "output '" + o.name() + "'";
        placed.put(
            o.name(),
            SharedMemoryTensors.output(
                o.name(), o.parameters(), SharedMemoryTensors.requireRegistry(registry, what)));
      }
    }
    return placed;
  }

  /**
   * The delivery that writes a request's outputs into their regions before the core counts the
   * request ({@link OutputDelivery}: one that does not fit fails the request, counted as a
   * failure); null for a request that asked no output into a region.
   */
  public static @Nullable OutputDelivery delivery(Map<String, SharedMemoryOutput> placements) {
    return placements.isEmpty() ? null : response -> writeAll(response.outputs(), placements);
  }

  /**
   * Writes every output of {@code outputs} that has a placement in {@code placements}.
   *
   * @throws InferenceException INVALID_ARGUMENT when one does not fit
   */
  public static void writeAll(
      Iterable<Tensor> outputs, Map<String, SharedMemoryOutput> placements) {
    if (placements.isEmpty()) {
      return;
    }
    for (Tensor t : outputs) {
      SharedMemoryOutput o = placements.get(t.name());
      if (o != null) {
        o.write(t);
      }
    }
  }
}
