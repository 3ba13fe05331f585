package dev.fulcrum.server;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.metrics.MetricsServer;
import dev.fulcrum.server.metrics.ServerMetrics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** Writes a model repository of fake models and serves it. */
final class TestModels {
  private TestModels() {}

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
      String fp32 =
          "{\"mode\":\"identity\",\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}],\"outputs\":[{\"name\":\"OUT\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}]}";
      model(root, "versioned", "version-policy:\n  all: true\n", 1, fp32);
      model(root, "versioned", null, 2, fp32);
      model(root, "broken", null, 1, "{\"mode\":\"fail\"}");
      model(root, "gated", null, 1, fp32.replace("identity", "gate"));
      model(
          root,
          "gated_queue1",
          "queue-policy:\n  max-queue-size: 1\n",
          1,
          fp32.replace("identity", "gate"));
      model(root, "exploding", null, 1, fp32.replace("identity", "explode"));
      // Triton's label_filename: line i names class i; the third class has an empty line.
      model(root, "labeled", "outputs:\n  - {name: OUT, labels: classes.txt}\n", 1, fp32);
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
