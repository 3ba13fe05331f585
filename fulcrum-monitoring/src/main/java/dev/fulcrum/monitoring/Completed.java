package dev.fulcrum.monitoring;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.repository.ModelVersion;
import org.jspecify.annotations.Nullable;

/**
 * A successful request as the engine thread hands it to the monitor's and the prediction log's
 * threads: references to the request and its response, not a copy of their values. The tensors are
 * immutable and own their garbage-collected buffers (ARCHITECTURE.md, "Who owns which buffer"), so
 * holding them until the consumer has read them is safe; the consumer converts the values it needs
 * on its own thread. Immutable.
 *
 * @param source the version that ran it (null only in tests)
 * @param epochMillis when it completed
 * @param latencyNanos from admission to completion
 */
record Completed(
    @Nullable ModelVersion source,
    InferenceRequest request,
    InferenceResponse response,
    long epochMillis,
    long latencyNanos)
    implements Handed {

  /** The copy the prediction log writes (and the monitor took on the engine thread before). */
  Observation observation() {
    ModelVersion mv = source;
    return new Observation(
        mv,
        mv != null ? mv.name() : response.modelName(),
        mv != null ? mv.versionString() : response.modelVersion(),
        request.id(),
        epochMillis,
        latencyNanos,
        Copies.logged(request.inputs()),
        Copies.logged(response.outputs()));
  }
}
