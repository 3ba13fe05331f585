package dev.fulcrum.server;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.metrics.MetricsServer;
import dev.fulcrum.server.metrics.ServerMetrics;
import dev.fulcrum.server.triton.PbtxtConfigFormat;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/** Writes a model repository of fake models and serves it. */
final class TestModels {
  private TestModels() {}

  /** A fake model of FP32 {@code IN} [-1, -1] to {@code OUT}, in a {@link FakeRuntime} mode. */
  private static final String FP32 =
      "{\"mode\":\"%s\",\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}],"
          + "\"outputs\":[{\"name\":\"OUT\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}]}";

  /** A REST inference body for {@link #fp32}'s models: one row, {@code IN} = [1, 2, 3, 4]. */
  static final String FP32_INFER =
      "{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}]}";

  /**
   * The model file of a fake FP32 model in {@code mode} ({@link FakeRuntime}'s: {@code identity},
   * {@code gate}, {@code fail}, {@code explode}, ...): {@code IN} [-1, -1] to {@code OUT}.
   */
  static String fp32(String mode) {
    return FP32.formatted(mode);
  }

  /** Writes {@code root/name/version/model.onnx}, a fake FP32 model in {@code mode}; no config. */
  static void writeFp32(Path root, String name, int version, String mode) throws IOException {
    model(root, name, null, version, fp32(mode));
  }

  /** The name of the identity model for a datatype: {@code echo_fp32} etc. */
  static String echo(DataType t) {
    return "echo_" + t.name().toLowerCase(Locale.ROOT);
  }

  static Path write(Path root) {
    try {
      for (DataType t : DataType.values()) {
        model(
            root,
            echo(t),
            null,
            1,
            "{\"mode\":\"identity\",\"inputs\":[{\"name\":\"IN\",\"datatype\":\"%s\",\"shape\":[-1,-1]}],\"outputs\":[{\"name\":\"OUT\",\"datatype\":\"%s\",\"shape\":[-1,-1]}]}"
                .formatted(t, t));
      }
      model(
          root,
          "simple",
          null,
          1,
          """
          {"mode":"addsub",
           "inputs":[{"name":"INPUT0","datatype":"INT32","shape":[-1,16]},
                     {"name":"INPUT1","datatype":"INT32","shape":[-1,16]}],
           "outputs":[{"name":"OUTPUT0","datatype":"INT32","shape":[-1,16]},
                      {"name":"OUTPUT1","datatype":"INT32","shape":[-1,16]}]}
          """);
      model(
          root,
          "pair",
          "max-batch-size: 0\n",
          1,
          """
          {"mode":"identity",
           "inputs":[{"name":"A","datatype":"FP32","shape":[2,2]},
                     {"name":"B","datatype":"BYTES","shape":[-1]}],
           "outputs":[{"name":"A_OUT","datatype":"FP32","shape":[2,2]},
                      {"name":"B_OUT","datatype":"BYTES","shape":[-1]}]}
          """);
      String identity = fp32("identity");
      model(root, "versioned", "version-policy:\n  all: true\n", 1, identity);
      model(root, "versioned", null, 2, identity);
      model(root, "broken", null, 1, "{\"mode\":\"fail\"}");
      model(root, "gated", null, 1, fp32("gate"));
      model(root, "gated_queue1", "queue-policy:\n  max-queue-size: 1\n", 1, fp32("gate"));
      model(root, "exploding", null, 1, fp32("explode"));
      // Triton's label_filename: line i names class i; the third class has an empty line.
      model(root, "labeled", "outputs:\n  - {name: OUT, labels: classes.txt}\n", 1, identity);
      Files.writeString(root.resolve("labeled/classes.txt"), "cat\ndog\n\nbird\n");
      return root;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void model(Path root, String name, String config, int version, String file)
      throws IOException {
    Path dir = root.resolve(name);
    Files.createDirectories(dir.resolve(Integer.toString(version)));
    if (config != null) {
      Files.writeString(dir.resolve("config.yaml"), config);
    }
    Files.writeString(dir.resolve(Integer.toString(version)).resolve("model.onnx"), file);
  }

  static InferenceService service(Path root) {
    ModelRepository repo =
        new ModelRepository(
            List.of(write(root)), List.of(new FakeRuntime()), new ModelConfigResolver(2, 8));
    repo.loadAll();
    return new InferenceService(repo, false);
  }

  /**
   * Serves the fake models of {@code root} (written by the caller) as {@code fulcrum serve} does,
   * with {@code metrics} bound to the repository: REST and the metrics port on ephemeral ports.
   */
  static Metered serveWithMetrics(Path root, ServerMetrics metrics, ModelConfigResolver resolver)
      throws IOException, InterruptedException {
    SchedulerEnvironment environment = SchedulerEnvironment.system(metrics);
    ModelRepository repository =
        new ModelRepository(List.of(root), List.of(new FakeRuntime()), resolver, environment);
    repository.loadAll();
    metrics.bind(repository);
    HttpServer http =
        new HttpServer(new InferenceService(repository, false), HttpServerConfig.ephemeral())
            .start();
    return new Metered(environment, repository, http, new MetricsServer("127.0.0.1", 0, metrics));
  }

  /**
   * Serves the fake models of {@code root} (written by the caller) with model control, as {@code
   * fulcrum serve} does: {@code metrics} observe every scheduler and the lifecycle and are bound to
   * the repository, a config.pbtxt is read as Triton's, readiness is strict, and REST listens on an
   * ephemeral port.
   *
   * @param workerIdle the engine threads' idle time ({@link SchedulerEnvironment#withWorkerIdle});
   *     {@link Duration#ZERO}: they start with their model and live until its unload
   */
  static Controlled serveControlled(
      Path root, ServerMetrics metrics, ModelRepository.Settings settings, Duration workerIdle)
      throws InterruptedException {
    SchedulerEnvironment environment =
        SchedulerEnvironment.system(metrics).withWorkerIdle(workerIdle);
    ModelRepository repository = null;
    try {
      repository =
          new ModelRepository(
              List.of(root),
              List.of(new FakeRuntime()),
              new ModelConfigResolver(2, 8),
              environment,
              settings,
              new ModelConfigLoader(List.of(new PbtxtConfigFormat())));
      repository.manager().addListener(metrics);
      metrics.bind(repository);
      repository.loadAll();
      InferenceService service = new InferenceService(repository, true);
      HttpServer http = new HttpServer(service, HttpServerConfig.ephemeral()).start();
      return new Controlled(environment, service, http);
    } catch (RuntimeException | InterruptedException e) {
      if (repository != null) {
        repository.close();
      }
      environment.close();
      throw e;
    }
  }

  /**
   * A REST server of fake models with model control ({@link #serveControlled}) and an HTTP/1.1
   * client of it; closing it closes the port, then the repository and its scheduler environment.
   * Thread-safe: its fields are final and each part is.
   */
  static final class Controlled implements AutoCloseable {
    private final SchedulerEnvironment environment;
    final InferenceService service;
    private final HttpServer http;
    private final HttpClient client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();

    private Controlled(
        SchedulerEnvironment environment, InferenceService service, HttpServer http) {
      this.environment = environment;
      this.service = service;
      this.http = http;
    }

    /** POSTs {@code body} as JSON to {@code path} of the REST port, waiting up to 60 s. */
    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
      return client.send(
          request(path)
              .header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString(body))
              .build(),
          HttpResponse.BodyHandlers.ofString());
    }

    /** GETs {@code path} of the REST port, waiting up to 60 s. */
    HttpResponse<String> get(String path) throws IOException, InterruptedException {
      return client.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpRequest.Builder request(String path) {
      return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + path))
          .timeout(Duration.ofSeconds(60));
    }

    @Override
    public void close() {
      http.close();
      service.repository().close();
      environment.close();
    }
  }

  /**
   * A server of fake models with its metrics port ({@link #serveWithMetrics}); closing it closes
   * the ports, then the repository and its scheduler environment. Thread-safe: its fields are final
   * and each part is.
   */
  static final class Metered implements AutoCloseable {
    private final SchedulerEnvironment environment;
    final ModelRepository repository;
    final HttpServer http;
    final MetricsServer metrics;

    private Metered(
        SchedulerEnvironment environment,
        ModelRepository repository,
        HttpServer http,
        MetricsServer metrics) {
      this.environment = environment;
      this.repository = repository;
      this.http = http;
      this.metrics = metrics;
    }

    /** The base URI of the REST port, e.g. {@code http://127.0.0.1:1234}. */
    String base() {
      return "http://127.0.0.1:" + http.port();
    }

    /** The base URI of the metrics port. */
    String metricsBase() {
      return "http://127.0.0.1:" + metrics.port();
    }

    @Override
    public void close() {
      http.close();
      metrics.close();
      repository.close();
      environment.close();
    }
  }
}
