package dev.fulcrum.core;

import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.tenant.Charge;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A tenant's {@link Charge} read off the answers: here, above both the request types (which carry
 * the tenant) and the tenant package (which counts charges), so that neither depends on the other.
 * Stateless.
 */
public final class TenantCharges {
  private TenantCharges() {}

  /** The charge of one answer (its timing is always taken for a tenant's request). */
  public static @Nullable Charge of(@Nullable InferenceResponse response) {
    if (response == null) {
      return null;
    }
    RequestTiming timing = response.timing();
    return timing == null
        ? Charge.NONE
        : new Charge(
            timing.requestRows(),
            timing.computeShareMicros() / 1e6,
            timing.priced() ? timing.costUsd() : 0);
  }

  /** The charge of a request answered in parts: the parts' rows, compute and costs summed. */
  public static Charge sum(List<InferenceResponse> parts) {
    int rows = 0;
    double seconds = 0;
    double cost = 0;
    for (InferenceResponse r : parts) {
      Charge c = of(r);
      if (c != null) {
        rows += c.rows();
        seconds += c.computeSeconds();
        cost += c.costUsd();
      }
    }
    return new Charge(rows, seconds, cost);
  }
}
