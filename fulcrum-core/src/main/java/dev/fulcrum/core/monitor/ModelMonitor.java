package dev.fulcrum.core.monitor;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.PassListener;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * What {@link dev.fulcrum.core.InferenceService} tells a monitor, and what the transports ask it.
 * The core depends on this interface only; the server wires an implementation in
 * (fulcrum-monitoring's {@code DriftMonitor}).
 *
 * <p>Threads: {@link #completed} runs on the thread that completed the request, right when it
 * completed (an engine thread; the transport's event loop a pass handed the answer to; or the
 * submitting thread after a lone pass), on several at once: it must hand the request to its own
 * thread without blocking and return. It may keep references to the request and the response rather
 * than copy their values: their tensors are immutable and own garbage-collected buffers
 * (ARCHITECTURE.md, "Who owns which buffer"), which it must only read. The other methods are called
 * by transports on any thread.
 *
 * <p>Per pass: a monitor that would rather see whole forward passes than requests returns a {@link
 * PassListener} from {@link #passListener}; {@code InferenceService} asks once per version, before
 * its first request, and installs it on the version's scheduler. Then {@link #completed} still runs
 * per request (a prediction log is per request) and says whether the request's rows were in a pass
 * that listener was told of ({@code inPass}); a cache hit never is. A pipeline version's passes
 * hold its steps' tensors (token ids and the model's output), not the request's.
 */
public interface ModelMonitor {

  /**
   * A request succeeded. Called once per successful request, before or while the transport writes
   * the response.
   *
   * @param version the version that ran it
   * @param latencyNanos from {@code InferenceService.infer} to completion
   * @param inPass true when the request ran in a pass told to this monitor's {@link #passListener}
   *     for the version (so its rows were handed over already)
   */
  void completed(
      ModelVersion version,
      InferenceRequest request,
      InferenceResponse response,
      long latencyNanos,
      boolean inPass);

  /**
   * The listener to install on the version's scheduler, or null to be told per request only. Asked
   * once per version, before its first request runs.
   */
  default @Nullable PassListener passListener(ModelVersion version) {
    return null;
  }

  /** The version's drift report; empty when the version has no monitoring configured. */
  Optional<DriftReport> drift(ModelVersion version);

  /** The reports of every monitored version (for metrics), in no particular order. */
  List<DriftReport> reports();

  /**
   * A copy of a version was unloaded (its state is UNLOADED): what the monitor keeps for it may go,
   * or pass to {@code successor}, the copy of the same version that now serves in its place (a
   * reload with a new configuration), if any. Called on the control thread that unloaded it; must
   * not block.
   */
  default void unloaded(String model, long version, @Nullable ModelVersion successor) {}

  /** The prediction log's totals, or null when the server keeps no prediction log. */
  default @Nullable PredictionLogCounts predictionLog() {
    return null;
  }
}
