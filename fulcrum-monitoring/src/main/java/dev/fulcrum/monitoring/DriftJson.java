package dev.fulcrum.monitoring;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import java.util.List;

/**
 * The JSON of a drift report ({@code GET /v2/models/<m>/drift}, {@code fulcrum skew-check}) and of
 * one alert change (the log's webhook). One rendering, so every surface says the same. Stateless.
 */
public final class DriftJson {
  private DriftJson() {}

  /** The whole report. */
  public static ObjectNode report(DriftReport r) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("model", r.model());
    o.put("version", r.version());
    o.put("enabled", r.enabled());
    o.put("status", status(r));
    if (r.problem() != null) {
      o.put("problem", r.problem());
    }
    o.put("baseline", r.baseline());
    o.put("observations", r.observations());
    o.put("dropped", r.dropped());
    o.put("shed", r.shed());
    o.set("features", features(r.features()));
    ObjectNode outputs = o.putObject("outputs");
    outputs.put("status", r.outputs().stream().anyMatch(FeatureDrift::drift) ? "drift" : "ok");
    outputs.set("features", features(r.outputs()));
    return o;
  }

  /** {@code drift} when any feature or output drifts, {@code unavailable} when it cannot tell. */
  public static String status(DriftReport r) {
    if (r.problem() != null || !r.enabled()) {
      return "unavailable";
    }
    return r.drifting() ? "drift" : "ok";
  }

  /** One alert raised or cleared: the feature's entry with the model, version and kind. */
  public static ObjectNode change(String model, String version, FeatureDrift f, boolean output) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("model", model);
    o.put("version", version);
    o.put("kind", output ? "output" : "feature");
    o.setAll(feature(f));
    return o;
  }

  private static ArrayNode features(List<FeatureDrift> list) {
    ArrayNode a = JsonNodeFactory.instance.arrayNode();
    list.forEach(f -> a.add(feature(f)));
    return a;
  }

  /** One feature: name, status, score, threshold, test, since, since_observation, tests. */
  public static ObjectNode feature(FeatureDrift f) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("name", f.name());
    o.put("status", f.drift() ? "drift" : "ok");
    o.put("score", round(f.score()));
    o.put("threshold", round(f.threshold()));
    o.put("test", f.test());
    if (f.since() != null) {
      o.put("since", f.since().toString());
      o.put("since_observation", f.sinceObservation());
    } else {
      o.putNull("since");
    }
    ObjectNode tests = o.putObject("tests");
    for (DriftReport.TestScore t : f.tests()) {
      tests
          .putObject(t.test())
          .put("score", round(t.score()))
          .put("threshold", round(t.threshold()));
    }
    return o;
  }

  private static double round(double v) {
    if (!Double.isFinite(v)) {
      return v > 0 ? 1e9 : 0;
    }
    return Math.round(v * 1e6) / 1e6;
  }
}
