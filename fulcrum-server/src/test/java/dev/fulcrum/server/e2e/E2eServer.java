package dev.fulcrum.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.runtime.ModelRuntime;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.pipelines.TextPipelines;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.HttpServer;
import dev.fulcrum.server.HttpServerConfig;
import dev.fulcrum.server.dashboard.DashboardFeed;
import dev.fulcrum.server.dashboard.RepositoryExtras;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import dev.fulcrum.server.tracing.Tracing;
import dev.fulcrum.server.triton.PbtxtConfigFormat;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * A real server for end-to-end tests, wired as {@code fulcrum serve} wires it (model repository,
 * ONNX Runtime backend, config.yaml or Triton's config.pbtxt, {@link InferenceService}, {@link
 * HttpServer} on an ephemeral port), and a {@link HttpClient} that talks to it as any client would.
 */
final class E2eServer implements AutoCloseable {
  static final String HCL = "Inference-Header-Content-Length";
  static final ObjectMapper JSON = new ObjectMapper();

  final InferenceService service;
  private final HttpServer http;
  private final SchedulerEnvironment environment;
  private final HttpClient client;
  private final String base;

  /** The demo's model repository ({@code demo/models}), as the build leaves it. */
  static final Path DEMO_MODELS = Path.of("..", "demo", "models").toAbsolutePath().normalize();

  /** The MiniLM file the build places in the demo repository; the text pipeline runs it. */
  static final Path MINILM_FILE =
      DEMO_MODELS.resolve("all_minilm_l6_v2").resolve("1").resolve("all-minilm-l6-v2-q.onnx");

  /** Sentences of several lengths, a short one among them, for the text pipeline's tests. */
  static final List<String> SENTENCES =
      List.of(
          "hello world",
          "The quick brown fox jumps over the lazy dog.",
          "Sentence embeddings map text to vectors, one definition for serving and training.",
          "Ok");

  /** The gRPC ports {@link #startGrpc} started: {@link #close} closes them first. */
  private final List<GrpcPort> grpcPorts = new java.util.concurrent.CopyOnWriteArrayList<>();

  /** The dashboard's feed, when started with {@link #startWithDashboard}. */
  final @Nullable DashboardFeed dashboard;

  /** The tracing its ports were started with ({@link Builder#tracing}), or null. */
  private @Nullable Tracing tracing;

  /** The shared memory regions its ports share (startSharedMemory), or null for each its own. */
  private @Nullable SharedMemoryRegistry sharedMemory;

  private E2eServer(InferenceService service, HttpServer http, SchedulerEnvironment environment) {
    this(service, http, environment, null);
  }

  private E2eServer(
      InferenceService service,
      HttpServer http,
      SchedulerEnvironment environment,
      @Nullable DashboardFeed dashboard) {
    this.dashboard = dashboard;
    this.service = service;
    this.environment = environment;
    this.http = http;
    this.base = "http://127.0.0.1:" + http.port();
    this.client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();
  }

  /** Serves a repository with the ONNX Runtime backend and Triton's 64 MiB body limit. */
  static E2eServer start(Path repository) throws InterruptedException {
    return serving(repository).start();
  }

  /**
   * Serves the demo's repository with the ONNX Runtime backend, for the tests of its text pipeline
   * {@code minilm_text}: the calling test class is skipped where the build has not placed the
   * MiniLM file.
   */
  static E2eServer startMiniLm() throws InterruptedException {
    assumeThat(MINILM_FILE).as("the MiniLM file (placed by the build)").isRegularFile();
    return start(DEMO_MODELS);
  }

  /** Serves a repository with {@code runtime} and Triton's 64 MiB body limit. */
  static E2eServer start(Path repository, ModelRuntime runtime) throws InterruptedException {
    return serving(repository).runtime(runtime).start();
  }

  /** Serves a repository with {@code runtime} and a body limit of {@code maxInputSize} bytes. */
  static E2eServer start(Path repository, int maxInputSize, ModelRuntime runtime)
      throws InterruptedException {
    return serving(repository).maxInputSize(maxInputSize).runtime(runtime).start();
  }

  /**
   * Serves a repository with the ONNX Runtime backend, its REST and gRPC ports sharing {@code
   * registry} (as {@code fulcrum serve} shares one registry between them).
   */
  static E2eServer startSharedMemory(Path repository, SharedMemoryRegistry registry)
      throws InterruptedException {
    return serving(repository).sharedMemory(registry).start();
  }

  /**
   * A server of {@code repository} to start as {@link Builder} says: by default as {@link
   * #start(Path)} starts one (the ONNX Runtime backend, the default input limit, no monitor, the
   * default repository settings, unpriced, untraced).
   */
  static Builder serving(Path repository) {
    return new Builder(repository);
  }

  /** What a server is started with, each default until set. Confined to the test's thread. */
  static final class Builder {
    private final Path repository;
    private int maxInputSize = HttpServerConfig.DEFAULT_MAX_INPUT_SIZE;
    private @Nullable ModelRuntime runtime;
    private dev.fulcrum.core.monitor.@Nullable ModelMonitor monitor;
    private ModelRepository.Settings settings = ModelRepository.Settings.defaults();
    private double costPerHour;
    private @Nullable Tracing tracing;
    private @Nullable SharedMemoryRegistry sharedMemory;
    private HttpServerConfig.@Nullable InvocationsModel invocationsModel;
    private dev.fulcrum.core.repository.MountedModels.@Nullable Settings mounted;
    private dev.fulcrum.server.security.@Nullable Security security;

    private Builder(Path repository) {
      this.repository = repository;
    }

    /** The REST port's largest request body. */
    Builder maxInputSize(int bytes) {
      this.maxInputSize = bytes;
      return this;
    }

    /** The engine (else ONNX Runtime's). */
    Builder runtime(ModelRuntime r) {
      this.runtime = r;
      return this;
    }

    /** A skew and drift monitor (null: none). */
    Builder monitor(dev.fulcrum.core.monitor.@Nullable ModelMonitor m) {
      this.monitor = m;
      return this;
    }

    /** The repository's settings: model control, rollout state, polling. */
    Builder settings(ModelRepository.Settings s) {
      this.settings = s;
      return this;
    }

    /** Every model priced at this many USD an hour (as {@code fulcrum serve --cost-per-hour}). */
    Builder costPerHour(double usd) {
      this.costPerHour = usd;
      return this;
    }

    /** Traces its requests with {@code t}. */
    Builder tracing(Tracing t) {
      this.tracing = t;
      return this;
    }

    /** Its REST and gRPC ports share this registry of shared-memory regions. */
    Builder sharedMemory(SharedMemoryRegistry registry) {
      this.sharedMemory = registry;
      return this;
    }

    /** The model {@code POST /invocations} runs (as {@code fulcrum serve --invocations-model}). */
    Builder invocationsModel(HttpServerConfig.InvocationsModel m) {
      this.invocationsModel = m;
      return this;
    }

    /**
     * Models load from folders under this root (as {@code fulcrum serve --sagemaker-mme-root}); the
     * settings' mode must be explicit.
     */
    Builder mounted(dev.fulcrum.core.repository.MountedModels.Settings m) {
      this.mounted = m;
      return this;
    }

    /** The REST port's tokens and TLS. */
    Builder security(dev.fulcrum.server.security.Security s) {
      this.security = s;
      return this;
    }

    /** Loads the repository and starts the REST port. */
    E2eServer start() throws InterruptedException {
      int cores = Runtime.getRuntime().availableProcessors();
      SchedulerEnvironment environment = SchedulerEnvironment.system();
      ModelRepository models =
          new ModelRepository(
              List.of(repository),
              List.of(runtime != null ? runtime : new OnnxRuntimeBackend(), new TextPipelines()),
              new ModelConfigResolver(cores, 32, costPerHour),
              environment,
              settings,
              new ModelConfigLoader(List.of(new PbtxtConfigFormat())));
      if (mounted != null) {
        models.mount(mounted);
      }
      models.loadAll();
      InferenceService service = new InferenceService(models, true, monitor);
      HttpServerConfig config =
          HttpServerConfig.ephemeral()
              .withMaxInputSize(maxInputSize)
              .withInvocationsModel(invocationsModel);
      if (security != null) {
        config = config.withSecurity(security);
      }
      HttpServer http = new HttpServer(service, config);
      if (tracing != null) {
        http.tracing(tracing);
      }
      if (sharedMemory != null) {
        http.sharedMemory(sharedMemory);
      }
      http.start();
      E2eServer server = new E2eServer(service, http, environment);
      server.tracing = tracing;
      server.sharedMemory = sharedMemory;
      return server;
    }
  }

  /**
   * Serves a repository with the ONNX Runtime backend and the dashboard, wired as {@code fulcrum
   * serve} wires it (the feed observes every scheduler and the lifecycle, and ticks once a second).
   */
  static E2eServer startWithDashboard(Path repository, HttpServerConfig config)
      throws InterruptedException {
    DashboardFeed feed = new DashboardFeed();
    SchedulerEnvironment environment = SchedulerEnvironment.system(feed);
    ModelRepository models =
        new ModelRepository(
            List.of(repository),
            List.of(new OnnxRuntimeBackend()),
            new ModelConfigResolver(Runtime.getRuntime().availableProcessors(), 32),
            environment,
            ModelRepository.Settings.defaults(),
            new ModelConfigLoader(List.of(new PbtxtConfigFormat())));
    models.manager().addListener(feed);
    feed.bind(models);
    feed.source(new RepositoryExtras(models, null)); // the SLO panel, as the serve command's
    models.loadAll();
    feed.startupDone(1.0);
    feed.start();
    InferenceService service = new InferenceService(models, true);
    HttpServer http = new HttpServer(service, config).dashboard(feed);
    http.start();
    return new E2eServer(service, http, environment, feed);
  }

  /** The base URI of the REST port, e.g. {@code http://127.0.0.1:1234}. */
  String base() {
    return base;
  }

  int port() {
    return http.port();
  }

  /** The HTTP transport, for tests that stop it themselves. */
  HttpServer http() {
    return http;
  }

  /**
   * A gRPC port on this server's {@link InferenceService} and a plaintext channel to it; closing it
   * closes both, and the server closes the ports it started that are still open before itself (so a
   * test class that keeps one for all its tests closes only the server). Used by the end-to-end
   * tests that run cases over REST and gRPC alike.
   */
  static final class GrpcPort implements AutoCloseable {
    private final GrpcServer server;
    final ManagedChannel channel;
    private boolean closed;

    private GrpcPort(GrpcServer server) {
      this.server = server;
      this.channel =
          NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    }

    @Override
    public synchronized void close() {
      if (closed) {
        return;
      }
      closed = true;
      try {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        server.close();
      }
    }
  }

  /** Starts a gRPC port on this server (ephemeral port, default limits). */
  GrpcPort startGrpc() throws java.io.IOException {
    GrpcServer grpc = new GrpcServer(service, GrpcServerConfig.ephemeral());
    if (tracing != null) {
      grpc.tracing(tracing);
    }
    if (sharedMemory != null) {
      grpc.sharedMemory(sharedMemory);
    }
    GrpcPort port = new GrpcPort(grpc.start());
    grpcPorts.add(port);
    return port;
  }

  @Override
  public void close() {
    grpcPorts.forEach(GrpcPort::close);
    if (dashboard != null) {
      dashboard.close();
    }
    http.close();
    service.repository().close();
    environment.close();
  }

  // ---- requests ------------------------------------------------------------------------------

  static String inferPath(String model) {
    return "/v2/models/" + model + "/infer";
  }

  HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60));
  }

  HttpResponse<byte[]> send(HttpRequest.Builder request) throws IOException, InterruptedException {
    return client.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  CompletableFuture<HttpResponse<byte[]>> sendAsync(HttpRequest.Builder request) {
    return client.sendAsync(request.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  HttpResponse<byte[]> get(String path) throws IOException, InterruptedException {
    return send(request(path).GET());
  }

  /** A JSON-only request. */
  HttpResponse<byte[]> post(String path, String json) throws IOException, InterruptedException {
    return send(jsonRequest(path, json));
  }

  /** A request with the binary tensor data extension: the JSON header, then the parts. */
  HttpResponse<byte[]> post(String path, String json, byte[]... binary)
      throws IOException, InterruptedException {
    return send(binaryRequest(path, json, binary));
  }

  HttpRequest.Builder jsonRequest(String path, String json) {
    return request(path)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json));
  }

  HttpRequest.Builder binaryRequest(String path, String json, byte[]... binary) {
    return request(path)
        .header("Content-Type", "application/octet-stream")
        .header(HCL, Integer.toString(json.getBytes(StandardCharsets.UTF_8).length))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body(json, binary)));
  }

  /** The body of a binary request: the UTF-8 JSON header followed by the binary parts. */
  static byte[] body(String json, byte[]... binary) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(json.getBytes(StandardCharsets.UTF_8));
    for (byte[] b : binary) {
      out.writeBytes(b);
    }
    return out.toByteArray();
  }

  // ---- responses -----------------------------------------------------------------------------

  /** The JSON part of a response: the first {@code Inference-Header-Content-Length} bytes. */
  static JsonNode header(HttpResponse<byte[]> r) throws IOException {
    int len = r.headers().firstValue(HCL).map(Integer::parseInt).orElse(r.body().length);
    return JSON.readTree(Arrays.copyOfRange(r.body(), 0, len));
  }

  /**
   * The binary outputs of a response by name, cut as a Triton client cuts them: after the JSON
   * header, one {@code binary_data_size} after the other in output order.
   */
  static Map<String, byte[]> binaryOutputs(HttpResponse<byte[]> r) throws IOException {
    JsonNode root = header(r);
    int offset = r.headers().firstValue(HCL).map(Integer::parseInt).orElse(r.body().length);
    Map<String, byte[]> out = new LinkedHashMap<>();
    for (JsonNode o : root.get("outputs")) {
      JsonNode size = o.path("parameters").get("binary_data_size");
      if (size != null) {
        out.put(
            o.get("name").asText(), Arrays.copyOfRange(r.body(), offset, offset + size.asInt()));
        offset += size.asInt();
      }
    }
    assertThat(offset).as("binary_data_size adds up to the body").isEqualTo(r.body().length);
    return out;
  }

  /** The output of a response by name. */
  static JsonNode output(HttpResponse<byte[]> r, String name) throws IOException {
    for (JsonNode o : header(r).get("outputs")) {
      if (o.get("name").asText().equals(name)) {
        return o;
      }
    }
    throw new AssertionError("no output " + name + " in " + header(r));
  }

  /** The message of an error response, checking that it is an OIP JSON error. */
  static String error(HttpResponse<byte[]> r) throws IOException {
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonNode e = JSON.readTree(r.body()).get("error");
    assertThat(e).as("error field of %s", new String(r.body(), StandardCharsets.UTF_8)).isNotNull();
    return e.asText();
  }

  /** The body as text, for assertion messages. */
  static String text(HttpResponse<byte[]> r) {
    return new String(r.body(), StandardCharsets.UTF_8);
  }

  /** JSON text of a string, quoted and escaped. */
  static String quote(String s) {
    try {
      return JSON.writeValueAsString(s);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** An answer's body read as JSON. */
  public static JsonNode json(HttpResponse<byte[]> r) throws IOException {
    return JSON.readTree(r.body());
  }

  /** Every number of a nested JSON value (an answer's rows, a tensor's data), in order. */
  public static List<Double> numbers(JsonNode n) {
    List<Double> out = new ArrayList<>();
    numbers(n, out);
    return out;
  }

  private static void numbers(JsonNode n, List<Double> out) {
    if (n.isArray()) {
      n.forEach(c -> numbers(c, out));
    } else {
      out.add(n.asDouble());
    }
  }
}
