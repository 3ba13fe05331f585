package dev.fulcrum.core.scheduler;

/**
 * Admission's plan against its outcomes by depth: one {@link PlanCalibration} (realized less
 * planned finish, as a share of the objective, over a recent window) per number of passes the plan
 * counted ahead of the request's own: 0 (nothing queued, only the running passes), 1 (its batch is
 * the next), 2, ... up to {@link #DEPTHS} - 1, which takes every deeper plan. The plan counts each
 * pass ahead at its own percentile plus a deviation, so its pessimism grows with depth; a quantile
 * of the outcomes at the request's own depth corrects it by what plans that deep actually realized.
 *
 * <p>O(1) per record, bounded memory ({@link #DEPTHS} fixed windows). Not thread-safe: guarded by
 * its scheduler's lock, like the policy that owns it.
 */
final class DepthCalibration {
  /** Depths kept apart; the last takes every deeper plan. */
  static final int DEPTHS = 6;

  private final PlanCalibration[] depths = new PlanCalibration[DEPTHS];

  DepthCalibration() {
    for (int d = 0; d < DEPTHS; d++) {
      depths[d] = new PlanCalibration();
    }
  }

  /** The window of plans {@code depth} passes deep (deeper ones: the last). */
  PlanCalibration at(int depth) {
    return depths[Math.max(0, Math.min(DEPTHS - 1, depth))];
  }
}
