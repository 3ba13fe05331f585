package dev.fulcrum.server.http;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.repository.ModelVersionStatus;
import dev.fulcrum.server.codec.JsonStreams;
import dev.fulcrum.server.codec.OpenAiJson;
import dev.fulcrum.server.codec.PredictJson;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * TF Serving's REST API beside OpenAI's on the {@code /v1} paths (docs/MODEL_CONFIG.md, "TF Serving
 * and KServe v1"): the model status of one version ({@code GET v1/models/<m>/versions/<v>}), the
 * model metadata ({@code GET v1/models/<m>[/versions/<v>]/metadata}) and {@code GET v1/models/<m>},
 * which OpenAI's retrieve-model, KServe v1's model-ready and TF Serving's status share: one object
 * with the fields of all three. Predict itself runs through {@link InferHandler#predict}, as an
 * infer request. Errors on these paths (but {@code v1/models/<m>}, which stays OpenAI's) are OIP's
 * {@code {"error": "..."}}, TF Serving's shape.
 *
 * <p>Threads: called on the event loop. Holds no mutable state.
 */
final class PredictHandler {
  private final InferenceService service;

  PredictHandler(InferenceService service) {
    this.service = service;
  }

  /**
   * Whether a request target is one of TF Serving's {@code /v1} paths, whose errors are TF
   * Serving's {@code {"error": "<message>"}}, not OpenAI's: below {@code /v1/models/<m>} (a
   * version, metadata) or ending in {@code :predict}.
   */
  static boolean isPath(String uri) {
    int start = Route.absoluteFormPath(uri); // where Route reads the path from
    String models = "/v1/models/";
    if (!uri.startsWith(models, start)) {
      return false;
    }
    int end = uri.length();
    for (int i = start; i < end; i++) {
      char c = uri.charAt(i);
      if (c == '?' || c == '#') {
        end = i;
        break;
      }
    }
    String rest = uri.substring(start + models.length(), end);
    while (rest.endsWith("/")) {
      rest = rest.substring(0, rest.length() - 1);
    }
    int colon = rest.lastIndexOf(':');
    if (colon < 0) {
      int encoded = rest.toLowerCase(java.util.Locale.ROOT).lastIndexOf("%3a");
      rest = encoded < 0 ? rest : rest.substring(0, encoded) + ":" + rest.substring(encoded + 3);
    }
    return rest.indexOf('/') >= 0 || rest.endsWith(":predict") || otherVerb(rest);
  }

  /** The TF Serving and KServe v1 verbs not served here, so that they are 404s in their shape. */
  private static final List<String> OTHER_VERBS = List.of(":classify", ":regress", ":explain");

  /** Whether a path segment ends in a verb of TF Serving's or KServe v1's not served here. */
  static boolean otherVerb(String segment) {
    for (String verb : OTHER_VERBS) {
      if (segment.endsWith(verb)) {
        return true;
      }
    }
    return false;
  }

  /** The repository's rows of a model (every version it knows), newest first; 404 when none. */
  private List<ModelVersionStatus> rows(String model, String version) {
    List<ModelVersionStatus> rows = new ArrayList<>(2);
    for (ModelVersionStatus s : service.repository().index()) {
      if (s.name().equals(model) && (version.isEmpty() || s.version().equals(version))) {
        rows.add(s);
      }
    }
    if (rows.isEmpty()) {
      if (version.isEmpty()) {
        throw InferenceException.notFound("unknown model '%s'", model);
      }
      throw InferenceException.notFound("model '%s' has no version '%s'", model, version);
    }
    rows.sort((a, b) -> Long.compare(number(b.version()), number(a.version())));
    return rows;
  }

  private static long number(String version) {
    try {
      return Long.parseLong(version);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** {@code GET v1/models/<m>/versions/<v>}: TF Serving's status of one version. */
  Reply status(String model, String version) {
    return Responses.json(HttpResponseStatus.OK, PredictJson.status(rows(model, version)));
  }

  /** {@code GET v1/models/<m>[/versions/<v>]/metadata}: TF Serving's model metadata. */
  Reply metadata(String model, String version) {
    ModelVersion mv = service.repository().resolve(model, version); // 404, 503
    return Responses.json(
        HttpResponseStatus.OK, PredictJson.metadata(mv.name(), mv.versionString(), mv.config()));
  }

  /**
   * {@code GET v1/models/<m>}, for every model the repository knows: OpenAI's model object ({@code
   * id}, {@code object}, {@code created}, {@code owned_by}), KServe v1's readiness ({@code name},
   * {@code ready}) and TF Serving's {@code model_version_status} of every version, in one object:
   * 200 when a version is ready, 503 (the same body, {@code "ready": false}) when none is, as
   * KServe v1's model-ready probe expects. 404 for an unknown model (in OpenAI's error shape, as
   * the rest of OpenAI's paths).
   *
   * @param created the server's start, OpenAI's {@code created}
   */
  Reply model(String model, long created) {
    List<ModelVersionStatus> rows = rows(model, "");
    boolean ready = false;
    for (ModelVersionStatus s : rows) {
      ready |= s.state() == ModelState.READY;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    try (JsonGenerator g = JsonStreams.FACTORY.createGenerator(out)) {
      g.writeStartObject();
      OpenAiJson.writeModelFields(g, model, created);
      g.writeStringField("name", model);
      g.writeBooleanField("ready", ready);
      PredictJson.writeStatus(g, rows);
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // KServe v1's model-ready probe: 200 when a version is ready, else 503 with the same body.
    return Responses.json(
        ready ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE, out.toByteArray());
  }
}
