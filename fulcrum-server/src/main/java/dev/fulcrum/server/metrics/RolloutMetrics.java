package dev.fulcrum.server.metrics;

import dev.fulcrum.core.repository.Rollout;
import java.util.List;
import java.util.function.Predicate;

/**
 * The canary rollouts' families (docs/METRICS.md, "Canary rollouts"), read from each model's {@link
 * Rollout} at scrape time: the canary's share and step, the verdict, the verdicts so far, and each
 * version's split requests and failures. Stateless.
 */
final class RolloutMetrics {
  private RolloutMetrics() {}

  static void write(StringBuilder sb, Predicate<String> names, List<Rollout> rollouts) {
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_rollout_canary_traffic_percent",
        "gauge",
        "Share of the requests that name no version which the canary (newest) version gets now")) {
      for (Rollout r : rollouts) {
        pair(sb, "fulcrum_rollout_canary_traffic_percent", r, "").append(r.percent()).append('\n');
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_rollout_step_index",
        "gauge",
        "The index of the canary's step in canary-steps (0 for one share), -1 once a share was set"
            + " by hand")) {
      for (Rollout r : rollouts) {
        pair(sb, "fulcrum_rollout_step_index", r, "").append(r.step()).append('\n');
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_rollout_state",
        "gauge",
        "1 for the canary rollout's verdict now (progressing, promoted, rolled_back), 0 for the"
            + " others")) {
      for (Rollout r : rollouts) {
        for (Rollout.Verdict v : Rollout.Verdict.values()) {
          String state = ",state=\"" + v.name().toLowerCase(java.util.Locale.ROOT) + '"';
          pair(sb, "fulcrum_rollout_state", r, state).append(r.verdict() == v ? 1 : 0).append('\n');
        }
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_rollout_verdicts_total",
        "counter",
        "Canary verdicts of the model since it was loaded, automatic and by hand")) {
      for (Rollout r : rollouts) {
        verdict(sb, r, "promoted", r.promotedCount());
        verdict(sb, r, "rolled_back", r.rolledBackCount());
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_rollout_requests_total",
        "counter",
        "Requests the canary rollout split to each version and that were answered or failed by"
            + " the server (client errors and cancellations left out)")) {
      for (Rollout r : rollouts) {
        arm(sb, "fulcrum_rollout_requests_total", r, "canary", r.requests(true));
        arm(sb, "fulcrum_rollout_requests_total", r, "stable", r.requests(false));
      }
    }
    if (TextFamily.open(
        sb,
        names,
        "fulcrum_rollout_failed_requests_total",
        "counter",
        "Of the split requests, those the version failed with a server error")) {
      for (Rollout r : rollouts) {
        arm(sb, "fulcrum_rollout_failed_requests_total", r, "canary", r.failedRequests(true));
        arm(sb, "fulcrum_rollout_failed_requests_total", r, "stable", r.failedRequests(false));
      }
    }
  }

  /** A sample's name and labels (model, both versions, then {@code more}), up to its value. */
  private static StringBuilder pair(StringBuilder sb, String name, Rollout r, String more) {
    return sb.append(name)
        .append("{model=\"")
        .append(TextFamily.escape(r.model()))
        .append("\",canary_version=\"")
        .append(r.canaryVersion())
        .append("\",stable_version=\"")
        .append(r.stableVersion())
        .append('"')
        .append(more)
        .append("} ");
  }

  private static void verdict(StringBuilder sb, Rollout r, String verdict, long n) {
    sb.append("fulcrum_rollout_verdicts_total{model=\"")
        .append(TextFamily.escape(r.model()))
        .append("\",verdict=\"")
        .append(verdict)
        .append("\"} ")
        .append(n)
        .append('\n');
  }

  private static void arm(StringBuilder sb, String name, Rollout r, String arm, long n) {
    sb.append(name)
        .append("{model=\"")
        .append(TextFamily.escape(r.model()))
        .append("\",version=\"")
        .append(arm.equals("canary") ? r.canaryVersion() : r.stableVersion())
        .append("\",arm=\"")
        .append(arm)
        .append("\"} ")
        .append(n)
        .append('\n');
  }
}
