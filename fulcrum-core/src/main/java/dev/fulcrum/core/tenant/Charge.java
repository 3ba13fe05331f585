package dev.fulcrum.core.tenant;

/**
 * What one answered request is charged to its tenant: the rows it predicted, its share of the
 * passes' compute time and its cost (the answer's {@code cost_usd}, 0 when no price is set). Built
 * from the answer by {@link dev.fulcrum.core.TenantCharges}, so that this package needs nothing of
 * the request types that carry a tenant. Immutable.
 *
 * @param rows the predictions (rows) it was answered
 * @param computeSeconds its share of the compute time of the passes it rode
 * @param costUsd its cost in USD
 */
public record Charge(int rows, double computeSeconds, double costUsd) {
  /** A request that was answered but charged nothing (no timing was taken). */
  public static final Charge NONE = new Charge(0, 0, 0);
}
