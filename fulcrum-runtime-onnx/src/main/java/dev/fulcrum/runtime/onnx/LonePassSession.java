package dev.fulcrum.runtime.onnx;

import ai.onnxruntime.OrtSession;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Threads by load ({@code onnxruntime.intra-op-threads-alone}) for the instances of one model file
 * and options: the one session with the lone-pass thread count that they share, and the count of
 * passes running on any of them. A pass that starts while no other pass runs takes the shared
 * session (every core for one request at low load); a pass that starts while another runs keeps its
 * instance's own session (one thread each, so overlapping passes do not fight for cores and the
 * intra-op pool is not woken for every operator at high load).
 *
 * <p>Thread-safe: each instance's engine thread calls {@link #begin} and {@link #end} around its
 * pass; at most one pass at a time runs on the shared session, because only the pass that finds no
 * other running gets it. The users count is guarded by the {@link OnnxRuntimeBackend} that made it.
 */
final class LonePassSession {
  private final OrtSession session;
  private final AtomicInteger running = new AtomicInteger();

  /** Instances holding this; guarded by the owning backend's lock. */
  int users;

  LonePassSession(OrtSession session) {
    this.session = session;
  }

  /**
   * Counts a pass in.
   *
   * @return the shared session when no other pass of the model runs, else null (the caller runs on
   *     its own session); every call is matched by one {@link #end}
   */
  @Nullable OrtSession begin() {
    return running.incrementAndGet() == 1 ? session : null;
  }

  /** Counts a pass out. */
  void end() {
    running.decrementAndGet();
  }

  OrtSession session() {
    return session;
  }
}
