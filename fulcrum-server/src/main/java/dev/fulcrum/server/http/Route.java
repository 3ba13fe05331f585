package dev.fulcrum.server.http;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.server.ClientText;
import dev.fulcrum.server.security.Scope;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One matched endpoint of the OIP REST API: which one, and the model and version in the path.
 *
 * @param endpoint the endpoint
 * @param model the model name (URL-decoded), or "" for server endpoints
 * @param version the version in the path, or "" when none
 */
record Route(Endpoint endpoint, String model, String version) {

  /** An endpoint, its method and the token scope it needs (null: open, for probes). */
  enum Endpoint {
    SERVER_METADATA(HttpMethod.GET, Scope.INFERENCE),
    HEALTH_LIVE(HttpMethod.GET, null),
    HEALTH_READY(HttpMethod.GET, null),
    MODEL_METADATA(HttpMethod.GET, Scope.INFERENCE),
    MODEL_READY(HttpMethod.GET, Scope.INFERENCE),
    MODEL_CONFIG(HttpMethod.GET, Scope.INFERENCE),
    MODEL_INFER(HttpMethod.POST, Scope.INFERENCE),
    /** Triton's statistics extension; an empty model means every model. */
    MODEL_STATS(HttpMethod.GET, Scope.INFERENCE),
    /** Fulcrum's live SLO attainment, cost and batching policy of one model version. */
    MODEL_SLO(HttpMethod.GET, Scope.INFERENCE),
    /** Training-serving skew and drift of a monitored model (docs/MONITORING.md). */
    MODEL_DRIFT(HttpMethod.GET, Scope.INFERENCE),
    /**
     * Triton's trace extension: {@code v2[/models/<m>]/trace/setting}, GET to read the settings,
     * POST to change them (both taken; see {@link #getToo}); the management scope, as changing what
     * is traced is an operator's act.
     */
    TRACE_SETTING(HttpMethod.POST, Scope.MANAGEMENT, true),
    /**
     * {@code GET v2/tenants}: what each tenant spent (chargeback); a FinOps job's, not a team's.
     */
    TENANTS(HttpMethod.GET, Scope.MANAGEMENT),
    /**
     * Triton's logging extension: {@code v2/logging}, GET to read the log settings, POST to change
     * them; the management scope, as changing what the server writes is an operator's act.
     */
    LOGGING(HttpMethod.POST, Scope.MANAGEMENT, true),
    /**
     * Triton's model repository extension: the index, and loading and unloading a model; the
     * management surface, so even the read-only index needs the management scope.
     */
    REPOSITORY_INDEX(HttpMethod.POST, Scope.MANAGEMENT),
    REPOSITORY_LOAD(HttpMethod.POST, Scope.MANAGEMENT),
    REPOSITORY_UNLOAD(HttpMethod.POST, Scope.MANAGEMENT),
    /**
     * A model's canary rollout ({@code v2/models/<m>/rollout}, docs/MODEL_CONFIG.md "Canary
     * rollouts"): GET reads its state, POST sets the canary's share, promotes or rolls back; the
     * management scope, as the repository API's, since a POST changes what serves.
     */
    MODEL_ROLLOUT(HttpMethod.POST, Scope.MANAGEMENT, true),
    /**
     * The dashboard page and its static files (the model field names the file): open, as a browser
     * cannot send a bearer token when it opens a page, and they hold no data.
     */
    DASHBOARD_FILE(HttpMethod.GET, null),
    /** The dashboard's server-sent events: every model's numbers, so the inference scope. */
    DASHBOARD_EVENTS(HttpMethod.GET, Scope.INFERENCE),
    /**
     * Triton's shared-memory extensions ({@code v2/systemsharedmemory[/region/<r>]/status}, {@code
     * v2/cudasharedmemory/...}): the model field is the region ("" for none), the version field the
     * kind, {@code system} or {@code cuda}. The status is read with the inference scope (a client
     * checks its regions); registering and unregistering need the management scope, as the
     * repository API, since they make the server open and map files in {@code /dev/shm}.
     */
    SHARED_MEMORY_STATUS(HttpMethod.GET, Scope.INFERENCE),
    SHARED_MEMORY_REGISTER(HttpMethod.POST, Scope.MANAGEMENT),
    SHARED_MEMORY_UNREGISTER(HttpMethod.POST, Scope.MANAGEMENT),
    /**
     * The OpenAI-compatible embeddings API ({@link OpenAiHandler}): {@code v1/embeddings}, whose
     * model is named in the body.
     */
    OPENAI_EMBEDDINGS(HttpMethod.POST, Scope.INFERENCE),
    /**
     * {@code v1/models} (the model field empty) and {@code v1/models/<id>}: the latter answers
     * OpenAI's retrieve-model, KServe v1's model-ready and TF Serving's model status in one object
     * ({@link PredictHandler#model}).
     */
    OPENAI_MODELS(HttpMethod.GET, Scope.INFERENCE),
    /**
     * TF Serving's and KServe v1's predict, {@code v1/models/<m>[/versions/<v>]:predict} ({@link
     * PredictHandler}).
     */
    TFS_PREDICT(HttpMethod.POST, Scope.INFERENCE),
    /** TF Serving's model status of one version, {@code v1/models/<m>/versions/<v>}. */
    TFS_STATUS(HttpMethod.GET, Scope.INFERENCE),
    /** TF Serving's model metadata, {@code v1/models/<m>[/versions/<v>]/metadata}. */
    TFS_METADATA(HttpMethod.GET, Scope.INFERENCE),
    /**
     * SageMaker's and MLflow's health check, {@code GET /ping} (MLflow's {@code GET /health} too):
     * 200 when the model {@code /invocations} would run is ready ({@link InvocationsTarget}); open,
     * as every probe.
     */
    PING(HttpMethod.GET, null),
    /**
     * SageMaker's and MLflow's scoring endpoint, {@code POST /invocations}: MLflow's scoring
     * protocol ({@code dev.fulcrum.server.codec.MlflowDecoder}) run on the model {@link
     * InvocationsTarget} picks.
     */
    INVOCATIONS(HttpMethod.POST, Scope.INFERENCE),
    /** MLflow's {@code GET /version}: the server's version, as text. */
    MLFLOW_VERSION(HttpMethod.GET, Scope.INFERENCE),
    /**
     * Hugging Face TEI's native routes ({@link TeiHandler}): {@code POST /embed}, {@code
     * /similarity}, and {@code /embed_all}, {@code /tokenize}, {@code /decode} (refused); the model
     * is the one {@code --embeddings-model} names, else the only text pipeline.
     */
    TEI_EMBED(HttpMethod.POST, Scope.INFERENCE),
    TEI_SIMILARITY(HttpMethod.POST, Scope.INFERENCE),
    TEI_UNSERVED(HttpMethod.POST, Scope.INFERENCE),
    /** TEI's {@code GET /info}: the model the routes run. */
    TEI_INFO(HttpMethod.GET, Scope.INFERENCE),
    /**
     * Ollama's embedding API ({@link OllamaHandler}): {@code POST /api/embed} and the legacy {@code
     * POST /api/embeddings}, whose model is named in the body.
     */
    OLLAMA_EMBED(HttpMethod.POST, Scope.INFERENCE),
    OLLAMA_EMBEDDINGS(HttpMethod.POST, Scope.INFERENCE),
    /** Ollama's {@code GET /api/tags}: the text pipelines as models. */
    OLLAMA_TAGS(HttpMethod.GET, Scope.INFERENCE),
    /** Ollama's {@code GET /api/version}. */
    OLLAMA_VERSION(HttpMethod.GET, Scope.INFERENCE),
    /**
     * SageMaker's multi-model endpoint's {@code /models} ({@link MultiModelHandler}): POST loads a
     * model from a folder under {@code --sagemaker-mme-root}, GET lists the models loaded so; the
     * management scope, as the repository API's loads, once any token is set; with none, open even
     * beyond loopback ({@link #openWithoutTokens}): SageMaker's agent sends no token, and the flag
     * is the operator's opt-in.
     */
    SAGEMAKER_MODELS(HttpMethod.POST, Scope.MANAGEMENT, true, true),
    /**
     * SageMaker's multi-model endpoint's {@code /models/<m>}: GET describes a loaded model, DELETE
     * unloads it; the management scope.
     */
    SAGEMAKER_MODEL(HttpMethod.DELETE, Scope.MANAGEMENT, true, true),
    /**
     * SageMaker's multi-model endpoint's {@code POST /models/<m>/invoke}: {@code /invocations}'s
     * bodies and answers, on the model the path names.
     */
    SAGEMAKER_INVOKE(HttpMethod.POST, Scope.INFERENCE),
    /** No such path. */
    NOT_FOUND(null, null);

    @SuppressWarnings("ImmutableEnumChecker") // Netty's HttpMethod is immutable, not annotated
    final @Nullable HttpMethod method;

    /** The scope a token needs for this endpoint; null where none does (health, not found). */
    final @Nullable Scope scope;

    /** Whether GET is taken besides {@link #method} (a POST endpoint that can also be read). */
    final boolean getToo;

    /**
     * Whether a server with no token at all answers it even bound beyond loopback (where the
     * management scope is otherwise closed until a management token is set): SageMaker's
     * multi-model API, which SageMaker calls without a token and which is off unless asked for.
     */
    final boolean openWithoutTokens;

    Endpoint(@Nullable HttpMethod method, @Nullable Scope scope) {
      this(method, scope, false);
    }

    Endpoint(@Nullable HttpMethod method, @Nullable Scope scope, boolean getToo) {
      this(method, scope, getToo, false);
    }

    Endpoint(
        @Nullable HttpMethod method,
        @Nullable Scope scope,
        boolean getToo,
        boolean openWithoutTokens) {
      this.method = method;
      this.scope = scope;
      this.getToo = getToo;
      this.openWithoutTokens = openWithoutTokens;
    }
  }

  /**
   * Where the path starts in a request target: 0, or past the scheme and authority of an
   * absolute-form target ({@code http://host:8000/v2/health/live}), which a server must accept (RFC
   * 9112 3.2.2); the authority is not checked against the server's names.
   */
  static int absoluteFormPath(String uri) {
    return absoluteFormPath(uri, uri.length());
  }

  /**
   * Where a request target's path ends: before its query or fragment, and before trailing slashes
   * (one kept for the root); {@code start} is {@link #absoluteFormPath(String)}'s.
   */
  static int pathEnd(String uri, int start) {
    int end = uri.length();
    for (int i = start; i < end; i++) {
      char c = uri.charAt(i);
      if (c == '?' || c == '#') {
        end = i;
        break;
      }
    }
    while (end > start + 1 && uri.charAt(end - 1) == '/') {
      end--;
    }
    return end;
  }

  /**
   * Whether {@code uri[start, end)} is one of {@code paths}, compared in place: the error shapes
   * ask this for every request's head, so no substring is made.
   */
  static boolean pathIn(String uri, int start, int end, List<String> paths) {
    int length = end - start;
    for (String p : paths) {
      if (p.length() == length && uri.startsWith(p, start)) {
        return true;
      }
    }
    return false;
  }

  private static int absoluteFormPath(String uri, int end) {
    if (uri.isEmpty() || uri.charAt(0) == '/') {
      return 0;
    }
    int scheme = uri.indexOf("://");
    if (scheme < 0 || scheme > end) {
      return 0;
    }
    String name = uri.substring(0, scheme);
    if (!name.equalsIgnoreCase("http") && !name.equalsIgnoreCase("https")) {
      return 0;
    }
    int slash = uri.indexOf('/', scheme + 3);
    return slash < 0 || slash > end ? end : slash;
  }

  /**
   * Matches a request URI (the query string is ignored).
   *
   * @throws InferenceException INVALID_ARGUMENT when a path segment is not valid percent-encoding
   */
  static Route match(String uri) {
    // The path ends at the first '?' or '#' (as QueryStringDecoder.rawPath()); its non-empty
    // segments between slashes, each percent-decoded. Scanned by hand: this runs once per request,
    // and the decoder object, the regex-free split's array and a copy of every segment were a
    // measurable share of a small request's CPU (docs/PERFORMANCE.md, "Session 11").
    int end = uri.length();
    for (int i = 0; i < end; i++) {
      char c = uri.charAt(i);
      if (c == '?' || c == '#') {
        end = i;
        break;
      }
    }
    List<String> s = new ArrayList<>(6);
    int from = absoluteFormPath(uri, end);
    while (from <= end) {
      int slash = uri.indexOf('/', from);
      int to = slash < 0 || slash > end ? end : slash;
      if (to > from) {
        s.add(decode(uri.substring(from, to)));
      }
      from = to + 1;
    }
    int n = s.size();
    if (n > 0 && n <= 2 && s.get(0).equals("dashboard")) {
      return dashboard(s);
    }
    if (n == 1) {
      switch (s.get(0)) {
        case "ping", "health" -> {
          return new Route(Endpoint.PING, "", "");
        }
        case "invocations" -> {
          return new Route(Endpoint.INVOCATIONS, "", "");
        }
        case "version" -> {
          return new Route(Endpoint.MLFLOW_VERSION, "", "");
        }
        case "embed" -> {
          return new Route(Endpoint.TEI_EMBED, "", "");
        }
        case "similarity" -> {
          return new Route(Endpoint.TEI_SIMILARITY, "", "");
        }
        case "embed_all", "tokenize", "decode" -> {
          return new Route(Endpoint.TEI_UNSERVED, "/" + s.get(0), "");
        }
        case "info" -> {
          return new Route(Endpoint.TEI_INFO, "", "");
        }
        default -> {}
      }
    }
    if (n == 2 && s.get(0).equals("api")) {
      return switch (s.get(1)) {
        case "embed" -> new Route(Endpoint.OLLAMA_EMBED, "", "");
        case "embeddings" -> new Route(Endpoint.OLLAMA_EMBEDDINGS, "", "");
        case "tags" -> new Route(Endpoint.OLLAMA_TAGS, "", "");
        case "version" -> new Route(Endpoint.OLLAMA_VERSION, "", "");
        default -> notFound();
      };
    }
    if (n > 0 && n <= 3 && s.get(0).equals("models")) {
      return sageMaker(s);
    }
    if (n > 0 && s.get(0).equals("v1")) {
      return openAi(s);
    }
    if (n == 0 || !s.get(0).equals("v2")) {
      return notFound();
    }
    if (n == 1) {
      return new Route(Endpoint.SERVER_METADATA, "", "");
    }
    if (n == 3 && s.get(1).equals("health")) {
      return switch (s.get(2)) {
        case "live" -> new Route(Endpoint.HEALTH_LIVE, "", "");
        case "ready" -> new Route(Endpoint.HEALTH_READY, "", "");
        default -> notFound();
      };
    }
    if (n == 2 && s.get(1).equals("tenants")) {
      return new Route(Endpoint.TENANTS, "", "");
    }
    if (n == 2 && s.get(1).equals("logging")) {
      return new Route(Endpoint.LOGGING, "", "");
    }
    if (n == 3 && s.get(1).equals("trace") && s.get(2).equals("setting")) {
      return new Route(Endpoint.TRACE_SETTING, "", "");
    }
    if (n >= 3 && s.get(1).equals("repository")) {
      return repository(s);
    }
    if (n >= 3 && (s.get(1).equals("systemsharedmemory") || s.get(1).equals("cudasharedmemory"))) {
      return sharedMemory(s);
    }
    if (n < 3 || !s.get(1).equals("models")) {
      return notFound();
    }
    if (n == 3 && s.get(2).equals("stats")) {
      return new Route(Endpoint.MODEL_STATS, "", "");
    }
    String model = s.get(2);
    String version = "";
    int next = 3;
    if (n >= 5 && s.get(3).equals("versions")) {
      version = s.get(4);
      next = 5;
    }
    if (n == next) {
      return new Route(Endpoint.MODEL_METADATA, model, version);
    }
    if (n == 5 && next == 3 && s.get(3).equals("trace") && s.get(4).equals("setting")) {
      return new Route(Endpoint.TRACE_SETTING, model, "");
    }
    if (n == next + 1) {
      return switch (s.get(next)) {
        case "ready" -> new Route(Endpoint.MODEL_READY, model, version);
        case "config" -> new Route(Endpoint.MODEL_CONFIG, model, version);
        case "infer" -> new Route(Endpoint.MODEL_INFER, model, version);
        case "stats" -> new Route(Endpoint.MODEL_STATS, model, version);
        case "slo" -> new Route(Endpoint.MODEL_SLO, model, version);
        case "drift" -> new Route(Endpoint.MODEL_DRIFT, model, version);
        case "rollout" -> next == 3 ? new Route(Endpoint.MODEL_ROLLOUT, model, "") : notFound();
        default -> notFound();
      };
    }
    return notFound();
  }

  /**
   * SageMaker's multi-model paths: {@code models}, {@code models/<m>}, {@code models/<m>/invoke}.
   */
  private static Route sageMaker(List<String> s) {
    return switch (s.size()) {
      case 1 -> new Route(Endpoint.SAGEMAKER_MODELS, "", "");
      case 2 -> new Route(Endpoint.SAGEMAKER_MODEL, s.get(1), "");
      default ->
          s.get(2).equals("invoke")
              ? new Route(Endpoint.SAGEMAKER_INVOKE, s.get(1), "")
              : notFound();
    };
  }

  /** {@code v2/repository/index}, {@code v2/repository/models/<m>/load} and {@code .../unload}. */
  private static Route repository(List<String> s) {
    if (s.size() == 3 && s.get(2).equals("index")) {
      return new Route(Endpoint.REPOSITORY_INDEX, "", "");
    }
    if (s.size() == 5 && s.get(2).equals("models")) {
      return switch (s.get(4)) {
        case "load" -> new Route(Endpoint.REPOSITORY_LOAD, s.get(3), "");
        case "unload" -> new Route(Endpoint.REPOSITORY_UNLOAD, s.get(3), "");
        default -> notFound();
      };
    }
    return notFound();
  }

  /** {@code v2/<kind>sharedmemory[/region/<r>]/{status,register,unregister}}. */
  private static Route sharedMemory(List<String> s) {
    if (s.size() != 3 && !(s.size() == 5 && s.get(2).equals("region"))) {
      return notFound();
    }
    String kind = s.get(1).equals("cudasharedmemory") ? "cuda" : "system";
    String region = s.size() == 5 ? s.get(3) : "";
    return switch (s.getLast()) {
      case "status" -> new Route(Endpoint.SHARED_MEMORY_STATUS, region, kind);
      case "register" -> new Route(Endpoint.SHARED_MEMORY_REGISTER, region, kind);
      case "unregister" -> new Route(Endpoint.SHARED_MEMORY_UNREGISTER, region, kind);
      default -> notFound();
    };
  }

  /**
   * {@code v1/embeddings}, {@code v1/models} and {@code v1/models/<id>} (OpenAI's paths), and TF
   * Serving's: {@code v1/models/<m>[/versions/<v>]:predict}, {@code v1/models/<m>/versions/<v>} and
   * {@code v1/models/<m>[/versions/<v>]/metadata}.
   */
  private static Route openAi(List<String> s) {
    if (s.size() == 2 && s.get(1).equals("embeddings")) {
      return new Route(Endpoint.OPENAI_EMBEDDINGS, "", "");
    }
    if (s.size() < 3 || !s.get(1).equals("models")) {
      return s.size() == 2 && s.get(1).equals("models")
          ? new Route(Endpoint.OPENAI_MODELS, "", "")
          : notFound();
    }
    String last = s.getLast();
    if (PredictHandler.otherVerb(last)) {
      return notFound(); // TF Serving's :classify and :regress, KServe v1's :explain: not served
    }
    boolean predict = last.endsWith(":predict");
    if (predict) {
      last = last.substring(0, last.length() - ":predict".length()); // the model or version
    }
    int end = s.size() - 1;
    String model = end == 2 ? last : s.get(2);
    String version = "";
    int next = 3;
    if (s.size() >= 5 && s.get(3).equals("versions")) {
      version = end == 4 ? last : s.get(4);
      next = 5;
    }
    if (model.isEmpty() || (next == 5 && version.isEmpty())) {
      return notFound();
    }
    if (predict) {
      return s.size() == next ? new Route(Endpoint.TFS_PREDICT, model, version) : notFound();
    }
    if (s.size() == next) {
      return next == 3
          ? new Route(Endpoint.OPENAI_MODELS, model, "")
          : new Route(Endpoint.TFS_STATUS, model, version);
    }
    return s.size() == next + 1 && last.equals("metadata")
        ? new Route(Endpoint.TFS_METADATA, model, version)
        : notFound();
  }

  /** {@code dashboard} (the page), {@code dashboard/events}, {@code dashboard/<file>}. */
  private static Route dashboard(List<String> s) {
    if (s.size() == 1) {
      return new Route(Endpoint.DASHBOARD_FILE, "index.html", "");
    }
    return s.get(1).equals("events")
        ? new Route(Endpoint.DASHBOARD_EVENTS, "", "")
        : new Route(Endpoint.DASHBOARD_FILE, s.get(1), "");
  }

  private static String decode(String segment) {
    if (segment.indexOf('%') < 0) {
      return segment; // nothing to decode: '+' is itself in a path (RFC 3986), not a space
    }
    String decoded;
    try {
      // decodeComponent is the query string's: it reads '+' as a space, which a path does not
      decoded = QueryStringDecoder.decodeComponent(segment.replace("+", "%2B"));
    } catch (IllegalArgumentException e) {
      throw InferenceException.invalid(
          "the path segment '%s' is not valid percent-encoding: %s",
          shown(segment), e.getMessage());
    }
    // A percent-encoded control character (%00, %0A, %7F) is no part of any name served here (a
    // model, a version, a file): refused, not looked up as a name with a NUL in it.
    int control = ClientText.firstAsciiControl(decoded);
    if (control >= 0) {
      throw InferenceException.invalid(
          "the path segment '%s' decodes to a control character (0x%02X), which no name here"
              + " may contain",
          shown(segment), (int) decoded.charAt(control));
    }
    return decoded;
  }

  private static String shown(String segment) {
    return segment.length() > 100 ? segment.substring(0, 100) + "..." : segment;
  }

  private static Route notFound() {
    return new Route(Endpoint.NOT_FOUND, "", "");
  }
}
