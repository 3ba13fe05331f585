package dev.fulcrum.server.http;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.core.repository.ModelVersionStatus;
import dev.fulcrum.server.HttpServerConfig.InvocationsModel;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.SortedSet;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Which model {@code POST /invocations} (SageMaker's and MLflow's scoring endpoint) runs, and
 * whether it is ready for {@code GET /ping}: the model SageMaker's multi-model header {@code
 * X-Amzn-SageMaker-Target-Model} names (its file name without the archive's suffix: {@code
 * fraud_classifier.tar.gz} and {@code models/fraud_classifier.tar.gz} name {@code
 * fraud_classifier}; the version {@code --invocations-model} pins when it names that model); else
 * {@code serve --invocations-model <name>[:<version>]}; else the repository's only model; else a
 * 400 naming the choices.
 *
 * <p>Threads: any; the repository's model names are read once per change of its index ({@link
 * dev.fulcrum.core.repository.ModelRepository#indexChanges}) and kept in a volatile field, so a
 * request on a server of one model builds no index.
 */
final class InvocationsTarget {
  /** SageMaker's multi-model endpoint header: the model artifact's path relative to its prefix. */
  static final String TARGET_MODEL = "X-Amzn-SageMaker-Target-Model";

  /** The suffixes of a model artifact's name that are no part of the model's name. */
  private static final List<String> SUFFIXES =
      List.of(".tar.gz", ".tgz", ".tar", ".zip", ".gz", ".onnx");

  private final InferenceService service;
  private final @Nullable InvocationsModel configured;

  /** The repository's model names as of a count of its index's changes. */
  private record Names(long changes, SortedSet<String> names) {}

  private volatile @Nullable Names names;

  InvocationsTarget(InferenceService service, @Nullable InvocationsModel configured) {
    this.service = service;
    this.configured = configured;
  }

  /**
   * The model and version a request runs on.
   *
   * @throws InferenceException INVALID_ARGUMENT when nothing names one and the repository holds
   *     several models (or an empty header); UNAVAILABLE when it holds none
   */
  InvocationsModel of(HttpHeaders headers) {
    String target = headers.get(TARGET_MODEL);
    InvocationsModel m = configured;
    if (target != null) {
      String name = modelOf(target);
      // The model --invocations-model names keeps the version it pins.
      return m != null && m.name().equals(name) ? m : new InvocationsModel(name, "");
    }
    if (m != null) {
      return m;
    }
    SortedSet<String> names = names();
    if (names.size() == 1) {
      return new InvocationsModel(names.first(), "");
    }
    if (names.isEmpty()) {
      throw InferenceException.unavailable("the server has no model to run /invocations on");
    }
    throw InferenceException.invalid(
        "/invocations runs one model, and this server has %d: %s; name one with the %s header or"
            + " start the server with --invocations-model <name>",
        names.size(), cut(names.toString()), TARGET_MODEL);
  }

  /** The model of a target header's value: its file name, less an archive's suffix. */
  static String modelOf(String target) {
    String name = target.strip();
    int slash = name.lastIndexOf('/');
    name = name.substring(slash + 1);
    String lower = name.toLowerCase(Locale.ROOT);
    for (String suffix : SUFFIXES) {
      if (lower.endsWith(suffix) && lower.length() > suffix.length()) {
        name = name.substring(0, name.length() - suffix.length());
        break;
      }
    }
    if (name.isEmpty()) {
      throw InferenceException.invalid(
          "the %s header '%s' names no model: send the model artifact's name, such as"
              + " '<model>.tar.gz'",
          TARGET_MODEL, cut(target));
    }
    return name;
  }

  /**
   * Whether {@code GET /ping} answers 200: the server is ready and not draining, and the model that
   * a request naming none would run has a ready version (with no model chosen and several in the
   * repository: every model has one, as {@code v2/health/ready}).
   */
  boolean ready() {
    if (!service.isReady() || service.isDraining()) {
      return false;
    }
    InvocationsModel m = configured;
    String name;
    if (m != null) {
      name = m.name();
    } else {
      SortedSet<String> names = names();
      if (names.size() != 1) {
        return !names.isEmpty();
      }
      name = names.first();
    }
    for (ModelVersionStatus s : service.repository().index()) {
      if (s.name().equals(name)
          && s.state() == ModelState.READY
          && (m == null || m.version().isEmpty() || s.version().equals(m.version()))) {
        return true;
      }
    }
    return false;
  }

  /** The repository's model names, made anew only after its index changed. */
  SortedSet<String> names() {
    // The count is read before the index: a change made while the names are made bumps it after,
    // so what is kept here is made again at the next call.
    long changes = service.repository().indexChanges();
    Names known = names;
    if (known != null && known.changes() == changes) {
      return known.names();
    }
    TreeSet<String> made = new TreeSet<>();
    for (ModelVersionStatus s : service.repository().index()) {
      made.add(s.name());
    }
    SortedSet<String> kept = Collections.unmodifiableSortedSet(made);
    names = new Names(changes, kept);
    return kept;
  }

  private static String cut(String s) {
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }
}
