package dev.fulcrum.server.protocol;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.config.RolloutConfig;
import dev.fulcrum.core.repository.Rollout;

/**
 * A model's canary rollout as {@code GET v2/models/<m>/rollout} shows it (docs/MODEL_CONFIG.md,
 * "Canary rollouts"): the share, the step, the verdict and its reason, each version's figures, and
 * the rules as configured (config.yaml's field names). Stateless.
 */
public final class RolloutJson {
  private static final JsonNodeFactory F = JsonNodeFactory.instance;

  private RolloutJson() {}

  /** A rollout in progress or concluded. */
  public static ObjectNode state(Rollout r) {
    ObjectNode o = F.objectNode();
    o.put("model", r.model());
    o.put("canary_version", Long.toString(r.canaryVersion()));
    o.put("stable_version", Long.toString(r.stableVersion()));
    o.put("canary_traffic_percent", r.percent());
    step(o, r);
    o.put("verdict", r.verdict().name());
    o.put("reason", r.reason());
    arm(o.putObject("canary"), r.canaryStats());
    arm(o.putObject("stable"), r.stableStats());
    o.set("config", config(r.config()));
    return o;
  }

  /**
   * A model whose configuration has a rollout but which serves fewer than two versions: every
   * request goes to the one that serves.
   */
  public static ObjectNode inactive(String model, long serving, RolloutConfig config) {
    ObjectNode o = F.objectNode();
    o.put("model", model);
    o.put("canary_version", "");
    o.put("stable_version", Long.toString(serving));
    o.put("canary_traffic_percent", 0);
    o.put("verdict", "INACTIVE");
    o.put(
        "reason",
        "only version "
            + serving
            + " serves: it answers every request until a second version serves"
            + " (version-policy: {latest: 2})");
    o.set("config", config(config));
    return o;
  }

  /**
   * Where the canary is in {@code canary-steps}: the step's index and share (null once a share was
   * set by hand), and the canary's answers judged at it.
   */
  private static void step(ObjectNode o, Rollout r) {
    int step = r.step();
    if (step < 0) {
      o.putNull("step_index");
      o.putNull("step_percent");
    } else {
      o.put("step_index", step);
      o.put("step_percent", r.config().canarySteps().get(step));
    }
    o.put("step_requests", r.stepRequests());
  }

  private static void arm(ObjectNode o, Rollout.ArmStats s) {
    o.put("version", Long.toString(s.version()));
    o.put("requests", s.requests());
    o.put("failed", s.failed());
    o.put("slo_misses", s.sloMisses());
    o.put("window_requests", s.windowRequests());
    o.put("failed_percent", s.failedPercent());
    o.put("slo_miss_percent", s.sloMissPercent());
    o.put("p99_ms", s.p99Nanos() / 1e6);
  }

  /** The rules as config.yaml writes them (promote-after-requests 0: promoted by hand only). */
  public static ObjectNode config(RolloutConfig c) {
    ObjectNode o = F.objectNode();
    if (c.stepped()) {
      ArrayNode steps = o.putArray("canary-steps");
      c.canarySteps().forEach(steps::add);
    } else {
      o.put("canary-traffic-percent", c.canaryTrafficPercent());
    }
    o.put("min-requests", c.minRequests());
    o.put("window", c.window());
    o.put("max-failed-percent-increase", c.maxFailedPercentIncrease());
    o.put("max-p99-ratio", c.maxP99Ratio());
    o.put("p99-slack-ms", c.p99SlackNanos() / 1e6);
    o.put("max-slo-miss-percent-increase", c.maxSloMissPercentIncrease());
    o.put("promote-after-requests", c.promoteAfterRequests());
    o.put("promote-after-seconds", c.promoteAfterNanos() / 1e9);
    return o;
  }
}
