package dev.fulcrum.server.metrics;

import dev.fulcrum.core.config.PlainNumbers;
import dev.fulcrum.core.tenant.ModelUsage;
import dev.fulcrum.core.tenant.Outcome;
import dev.fulcrum.core.tenant.Tenant;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.ToDoubleFunction;

/**
 * The tenants' chargeback families (docs/METRICS.md, "Tenants: chargeback and limits"), read from
 * each {@link Tenant}'s usage at scrape time. Labels {@code tenant} and {@code model}: tenants come
 * only from the token file (plus {@code anonymous}), models only from the repository (plus {@code
 * ""} for requests naming a model the server does not serve), so the series are bounded by tenants
 * times models. Stateless.
 */
final class TenantMetrics {
  private TenantMetrics() {}

  static void write(StringBuilder sb, Predicate<String> names, List<Tenant> tenants) {
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_tenant_requests_total",
        "counter",
        "Inference requests of the tenant to the model, by outcome: success, client_error,"
            + " refused (its own limit, a full queue, the SLO policy, not ready), server_error")) {
      for (Tenant t : tenants) {
        for (Map.Entry<String, ModelUsage> e : t.usage().entrySet()) {
          for (Outcome o : Outcome.values()) {
            labels(sb, "fulcrum_tenant_requests_total", t, e.getKey())
                .append(",outcome=\"")
                .append(o.label())
                .append("\"} ")
                .append(e.getValue().requests(o))
                .append('\n');
          }
        }
      }
    }
    family(
        sb,
        names,
        tenants,
        "fulcrum_tenant_predictions_total",
        "Rows (predictions) the model answered for the tenant",
        ModelUsage::predictions);
    family(
        sb,
        names,
        tenants,
        "fulcrum_tenant_compute_seconds_total",
        "The tenant's share of the model's compute: each answered request's rows over the rows of"
            + " the pass it rode, times the pass's time",
        ModelUsage::computeSeconds);
    family(
        sb,
        names,
        tenants,
        "fulcrum_tenant_cost_usd_total",
        "What the tenant's answered requests cost, in USD: the sum of their cost_usd (0 without"
            + " --cost-per-hour)",
        ModelUsage::costUsd);
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_tenant_in_flight_requests",
        "gauge",
        "Requests of a tenant with a concurrency limit admitted and not yet answered")) {
      for (Tenant t : tenants) {
        if (t.limits().maxConcurrent() > 0) {
          sb.append("fulcrum_tenant_in_flight_requests{tenant=\"")
              .append(TextFamily.escape(t.name()))
              .append("\"} ")
              .append(t.inFlight())
              .append('\n');
        }
      }
    }
  }

  private static void family(
      StringBuilder sb,
      Predicate<String> names,
      List<Tenant> tenants,
      String name,
      String help,
      ToDoubleFunction<ModelUsage> value) {
    if (!TextFamily.open(sb, names, name, "counter", help)) {
      return;
    }
    for (Tenant t : tenants) {
      for (Map.Entry<String, ModelUsage> e : t.usage().entrySet()) {
        labels(sb, name, t, e.getKey())
            .append("} ")
            .append(PlainNumbers.plain(value.applyAsDouble(e.getValue())))
            .append('\n');
      }
    }
  }

  private static StringBuilder labels(StringBuilder sb, String name, Tenant t, String model) {
    return sb.append(name)
        .append("{tenant=\"")
        .append(TextFamily.escape(t.name()))
        .append("\",model=\"")
        .append(TextFamily.escape(model))
        .append('"');
  }
}
