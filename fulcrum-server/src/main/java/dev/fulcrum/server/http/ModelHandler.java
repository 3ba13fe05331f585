package dev.fulcrum.server.http;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.monitor.ModelMonitor;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.monitoring.DriftJson;
import dev.fulcrum.server.codec.JsonStreams;
import dev.fulcrum.server.protocol.ModelJson;
import dev.fulcrum.server.protocol.SloJson;
import io.netty.handler.codec.http.HttpResponseStatus;
import org.jspecify.annotations.Nullable;

/**
 * Server and model endpoints that only read state: health, server metadata, model metadata, model
 * readiness and model configuration. Runs on the event loop; every call is a map lookup plus a
 * small JSON document.
 */
final class ModelHandler {
  private final InferenceService service;
  private final String version;

  /**
   * {@code GET v2}'s reply, built at its first request: written with databind, which the first
   * answer of a fresh server does not otherwise need (docs/PERFORMANCE.md, "Cold start", session
   * 14). Two event loops may both build it once; either reply is the same.
   */
  private volatile @Nullable Reply serverMetadata;

  ModelHandler(InferenceService service, String version) {
    this.service = service;
    this.version = version;
  }

  Reply serverMetadata() {
    Reply r = serverMetadata;
    if (r == null) {
      r =
          Responses.json(
              HttpResponseStatus.OK, ModelJson.serverMetadata(version, ModelJson.EXTENSIONS));
      serverMetadata = r;
    }
    return r;
  }

  /**
   * The health answers, serialized once (without databind, nor ModelJson, whose class loads
   * databind's node factory): a probe costs no JSON tree and no serialization.
   */
  private static final Reply LIVE = health("live", true);

  private static final Reply NOT_LIVE = health("live", false);
  private static final Reply READY = health("ready", true);
  private static final Reply NOT_READY = health("ready", false);

  private static Reply health(String field, boolean ok) {
    return Responses.json(
        ok ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
        JsonStreams.object(field, ok));
  }

  Reply live() {
    return service.isLive() ? LIVE : NOT_LIVE;
  }

  Reply ready() {
    return service.isReady() ? READY : NOT_READY;
  }

  Reply modelMetadata(String model, String version) {
    return Responses.json(
        HttpResponseStatus.OK, ModelJson.modelMetadata(service.repository(), model, version));
  }

  Reply modelConfig(String model, String version) {
    ModelVersion mv = service.repository().resolve(model, version);
    return Responses.json(HttpResponseStatus.OK, ModelJson.tritonConfig(mv.config()));
  }

  /** Live SLO attainment, cost and batching policy of the version a request would reach. */
  Reply slo(String model, String version) {
    ModelVersion mv = service.repository().resolve(model, version);
    return Responses.json(HttpResponseStatus.OK, SloJson.slo(mv));
  }

  /**
   * A monitored version's skew and drift report (docs/MONITORING.md); 404 for an unknown model and
   * for one that has no {@code monitoring:} section or when the server runs no monitor.
   */
  Reply drift(String model, String version) {
    ModelVersion mv = service.repository().resolve(model, version);
    ModelMonitor monitor = service.monitor();
    if (monitor == null) {
      throw InferenceException.notFound(
          "drift monitoring is off in this server (fulcrum serve --monitoring false)");
    }
    DriftReport report =
        monitor
            .drift(mv)
            .orElseThrow(
                () ->
                    InferenceException.notFound(
                        "model '%s' version %s has no drift monitoring: add a 'monitoring:'"
                            + " section to its config.yaml (docs/MONITORING.md)",
                        mv.name(), mv.versionString()));
    return Responses.json(HttpResponseStatus.OK, DriftJson.report(report));
  }

  /** Triton's statistics: every served version, a model's versions, or one version. */
  Reply statistics(String model, String version) {
    return Responses.json(
        HttpResponseStatus.OK, ModelJson.statistics(service.repository().select(model, version)));
  }

  /** 200 when ready; 503 with {@code ready: false} when known but not ready; 404 when unknown. */
  Reply modelReady(String model, String version) {
    ObjectNode body = JsonNodeFactory.instance.objectNode().put("name", model);
    if (!version.isEmpty()) {
      body.put("version", version);
    }
    boolean ready = service.isModelReady(model, version);
    return Responses.json(
        ready ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
        body.put("ready", ready));
  }
}
