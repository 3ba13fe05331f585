package dev.fulcrum.server.protocol;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.PolicyState;
import dev.fulcrum.core.scheduler.SloCapacity;
import dev.fulcrum.core.stats.ProcessCpu;
import dev.fulcrum.core.stats.SloAccounting;

/**
 * The {@code GET v2/models/<m>[/versions/<v>]/slo} document: a model version's live SLO attainment,
 * latency, throughput, utilization and cost per window, its capacity at the objective and the load
 * against it (the pass, CPU and observed bounds), and its batching policy's state with the pass
 * times it learned. A number that is not defined (no requests in a window, no objective, no price)
 * is {@code null}. Stateless.
 */
public final class SloJson {
  private SloJson() {}

  private static final JsonNodeFactory F = JsonNodeFactory.instance;

  public static ObjectNode slo(ModelVersion mv) {
    SloAccounting.Snapshot s = mv.sloSnapshot();
    ObjectNode root = F.objectNode();
    root.put("name", mv.name());
    root.put("version", mv.versionString());
    if (s.latencyMs() > 0) {
      root.putObject("objective")
          .put("latency_ms", s.latencyMs())
          .put("percentile", s.percentile());
    } else {
      root.putNull("objective");
    }
    number(root, "cost_per_hour_usd", s.costPerHour() > 0 ? s.costPerHour() : Double.NaN);
    root.put("instances", s.instances());
    ArrayNode windows = root.putArray("windows");
    for (SloAccounting.Window w : s.windows()) {
      ObjectNode o = windows.addObject();
      o.put("window", w.window());
      o.put("seconds", w.seconds());
      o.put("requests", w.requests());
      o.put("best_effort", w.bestEffort());
      o.put("within_slo", w.withinSlo());
      o.put("rejected", w.rejected());
      o.put("slo_rejected", w.sloRejected());
      o.put("timed_out", w.timedOut());
      number(o, "attainment", w.attainment());
      ObjectNode latency = o.putObject("latency_ms");
      number(latency, "p50", w.p50Ms());
      number(latency, "p95", w.p95Ms());
      number(latency, "p99", w.p99Ms());
      o.put("predictions", w.predictions());
      o.put("throughput_per_s", w.throughput());
      o.put("utilization", w.utilization());
      number(o, "cost_per_million_usd", w.costPerMillionUsd());
    }
    SloAccounting.Load load = s.load();
    SloCapacity c = load.capacity();
    ObjectNode capacity = root.putObject("capacity");
    capacity.put("state", c.state().label());
    if (c.stated()) {
      capacity.put("bound", load.bound().label());
    } else {
      capacity.putNull("bound");
    }
    number(capacity, "requests_per_s", load.capacityPerSecond());
    number(capacity, "predictions_per_s", load.capacityPerSecond() * load.rowsPerRequest());
    number(capacity, "passes_requests_per_s", load.passesPerSecond());
    number(capacity, "cpu_requests_per_s", load.cpuPerSecond());
    number(capacity, "observed_requests_per_s", load.observedPerSecond());
    cpu(capacity.putObject("cpu"), load);
    observed(capacity.putObject("observed"), load.observed());
    if (c.state() == SloCapacity.State.KNOWN) {
      capacity.put("batch_size", c.batchSize());
    } else {
      capacity.putNull("batch_size");
    }
    capacity.put("window", SloAccounting.LOAD_WINDOW);
    capacity.put("offered_per_s", load.offeredPerSecond());
    number(capacity, "load_ratio", load.ratio());
    PolicyState p = s.policy();
    ObjectNode policy = root.putObject("policy");
    policy.put("name", p.policy());
    policy.put("batch_size", p.batchSize());
    policy.put("queue_delay_us", p.queueDelayNanos() / 1e3);
    policy.put("arrivals_per_s", p.arrivalsPerSecond());
    policy.put("refused_at_admission", p.refusedAtAdmission());
    policy.put("dropped_in_queue", p.droppedInQueue());
    PolicyState.Admission a = p.admission();
    if (a != null) {
      ObjectNode admission = policy.putObject("admission");
      ObjectNode calibration = admission.putObject("calibration");
      calibration.put("heads", a.heads());
      calibration.put("window", a.window());
      quantiles(calibration.putObject("realized_less_planned_ms"), a.realizedLessPlannedMs());
      quantiles(admission.putObject("head_slack_ms"), a.headSlackMs());
      admission.put("tolerance_ms", a.toleranceMs());
      admission.put("drop_guard_ms", a.dropGuardMs());
      ArrayNode margins = admission.putArray("refusal_margin_ms");
      for (PolicyState.MarginBucket b : a.refusalMargins()) {
        ObjectNode o = margins.addObject();
        number(o, "up_to", b.upToMs());
        o.put("count", b.count());
      }
      number(admission, "depth_quantile", a.depthQuantile());
      ArrayNode depths = admission.putArray("by_depth");
      for (PolicyState.DepthBucket d : a.byDepth()) {
        ObjectNode o = depths.addObject();
        o.put("depth", d.depth());
        o.put("outcomes", d.outcomes());
        o.put("window", d.window());
        number(o, "p50_ms", d.p50Ms());
        number(o, "p99_ms", d.p99Ms());
        number(o, "offset_ms", d.offsetMs());
      }
    }
    ArrayNode table = policy.putArray("pass_times");
    for (PolicyState.PassTime t : p.passTimes()) {
      table
          .addObject()
          .put("batch_size", t.batchSize())
          .put("mean_us", t.meanNanos() / 1e3)
          .put("planned_us", t.quantileNanos() / 1e3)
          .put("samples", t.samples());
    }
    return root;
  }

  /**
   * The CPU bound's inputs, so that an operator sees why it states what it does: the process's
   * budget (its limit, its CPUs, what other processes use of them, how long its tasks waited for a
   * CPU) and its own use, all models together, in cores over about the last 10 s; and its cgroup's
   * CPU weight.
   */
  private static void cpu(ObjectNode o, SloAccounting.Load load) {
    ProcessCpu.Usage u = load.cpu();
    o.put("state", load.cpuState().label());
    number(o, "load", load.cpuLoad());
    o.put("cpus", u.cpus());
    number(o, "quota_cores", u.quotaCores());
    o.put("cores_allowed", u.allowedCores());
    number(o, "others_busy", u.othersCores());
    number(o, "budget_cores", u.budgetCores());
    number(o, "own_busy", u.ownCores());
    o.put("background_cores", SloAccounting.Load.CPU_FLOOR * u.allowedCores());
    number(o, "pressure_some_ratio", u.pressureSomeRatio());
    o.put("pressure_scope", u.pressure().label());
    number(o, "weight", u.weight());
    number(o, "weight_share", u.weightShare());
    o.put("seconds", u.seconds());
  }

  /**
   * What the observed bound is from: the load window's requests under the objective and its misses
   * for load against what the objective allows, and the bound held from an earlier window.
   */
  private static void observed(ObjectNode o, SloAccounting.Observed seen) {
    o.put("requests", seen.requests());
    o.put("load_misses", seen.loadMisses());
    o.put("allowed_misses", seen.allowedMisses());
    number(o, "ratio", seen.ratio());
    number(o, "held_requests_per_s", seen.heldPerSecond());
    number(o, "held_s", seen.heldSeconds());
  }

  /** {"p1": ms, "p10": ms, ...} from the quantiles in order. */
  private static void quantiles(ObjectNode o, java.util.List<PolicyState.Quantile> qs) {
    for (PolicyState.Quantile q : qs) {
      double pct = q.quantile() * 100;
      String key = "p" + (pct == Math.rint(pct) ? Long.toString((long) pct) : Double.toString(pct));
      number(o, key, q.ms());
    }
  }

  private static void number(ObjectNode o, String field, double v) {
    if (Double.isFinite(v)) {
      o.put(field, v);
    } else {
      o.putNull(field);
    }
  }
}
