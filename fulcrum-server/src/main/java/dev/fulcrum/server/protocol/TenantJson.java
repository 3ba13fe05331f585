package dev.fulcrum.server.protocol;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.tenant.ModelUsage;
import dev.fulcrum.core.tenant.Outcome;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tenant.TenantLimits;
import java.util.List;
import java.util.Map;

/**
 * The body of {@code GET /v2/tenants}: each tenant's limits and, per model, what it spent since the
 * server started (counters that only grow, for a chargeback job to poll and difference). Stateless.
 */
public final class TenantJson {
  private TenantJson() {}

  /**
   * The report of {@code tenants} (the server's, in token-file order, the anonymous one last; empty
   * on a server without tenants).
   */
  public static ObjectNode tenants(List<Tenant> tenants) {
    ObjectNode body = JsonNodeFactory.instance.objectNode();
    body.put("accounting", !tenants.isEmpty());
    ArrayNode list = body.putArray("tenants");
    for (Tenant t : tenants) {
      ObjectNode o = list.addObject().put("name", t.name());
      TenantLimits l = t.limits();
      ObjectNode limits = o.putObject("limits");
      if (l.ratePerSecond() > 0) {
        limits.put("rate", l.ratePerSecond()).put("burst", l.burst());
      }
      if (l.maxConcurrent() > 0) {
        limits.put("concurrency", l.maxConcurrent());
        o.put("in_flight", t.inFlight());
      }
      ArrayNode models = o.putArray("models");
      for (Map.Entry<String, ModelUsage> e : t.usage().entrySet()) {
        ModelUsage u = e.getValue();
        ObjectNode m = models.addObject().put("model", e.getKey());
        ObjectNode requests = m.putObject("requests");
        for (Outcome outcome : Outcome.values()) {
          requests.put(outcome.label(), u.requests(outcome));
        }
        m.put("predictions", u.predictions())
            .put("compute_seconds", u.computeSeconds())
            .put("cost_usd", u.costUsd());
      }
    }
    return body;
  }
}
