package dev.fulcrum.core.monitor;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.repository.ModelVersion;
import java.util.List;
import java.util.Optional;

/**
 * What {@link dev.fulcrum.core.InferenceService} tells a monitor, and what the transports ask it.
 * The core depends on this interface only; the server wires an implementation in
 * (fulcrum-monitoring's {@code DriftMonitor}).
 *
 * <p>Threads: {@link #completed} runs on the engine thread that completed the request, right when
 * it completed: it must hand the request to its own thread without blocking and return. It may keep
 * references to the request and the response rather than copy their values: their tensors are
 * immutable and own garbage-collected buffers (ARCHITECTURE.md, "Who owns which buffer"), which it
 * must only read. The other methods are called by transports on any thread.
 */
public interface ModelMonitor {

  /**
   * A request succeeded. Called once per successful request, before or while the transport writes
   * the response.
   *
   * @param version the version that ran it
   * @param latencyNanos from {@code InferenceService.infer} to completion
   */
  void completed(
      ModelVersion version,
      InferenceRequest request,
      InferenceResponse response,
      long latencyNanos);

  /** The version's drift report; empty when the version has no monitoring configured. */
  Optional<DriftReport> drift(ModelVersion version);

  /** The reports of every monitored version (for metrics), in no particular order. */
  List<DriftReport> reports();
}
