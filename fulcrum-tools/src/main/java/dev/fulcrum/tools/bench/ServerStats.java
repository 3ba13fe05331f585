package dev.fulcrum.tools.bench;

import com.fasterxml.jackson.databind.JsonNode;
import org.jspecify.annotations.Nullable;

/**
 * Cumulative counters from Triton's statistics schema ({@code model_stats[].inference_stats}),
 * summed over versions; immutable.
 */
record ServerStats(long success, long queueNanos, long computeNanos) {

  static ServerStats parse(JsonNode root) {
    long success = 0;
    long queue = 0;
    long compute = 0;
    for (JsonNode m : root.path("model_stats")) {
      JsonNode s = m.path("inference_stats");
      success += s.path("success").path("count").asLong();
      queue += s.path("queue").path("ns").asLong();
      compute +=
          s.path("compute_input").path("ns").asLong()
              + s.path("compute_infer").path("ns").asLong()
              + s.path("compute_output").path("ns").asLong();
    }
    return new ServerStats(success, queue, compute);
  }

  /** The average per successful request between {@code before} and this, or null if none. */
  @Nullable Split since(ServerStats before) {
    long n = success - before.success;
    if (n <= 0) {
      return null;
    }
    return new Split(
        (queueNanos - before.queueNanos) / n, (computeNanos - before.computeNanos) / n);
  }

  /** Average server-side queue and compute time per request, in ns. */
  record Split(long queueNanos, long computeNanos) {}
}
