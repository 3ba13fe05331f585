package dev.fulcrum.tools.bench;

import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.ModelConfigLoader;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.runtime.ModelInstance;
import dev.fulcrum.core.runtime.ModelLoadException;
import dev.fulcrum.core.runtime.SessionOptions;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.triton.PbtxtConfigFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

/**
 * The ceiling: runs samples straight on ONNX Runtime ({@link ModelInstance#execute}), one worker
 * thread per configured instance taking an idle instance from a queue (no HTTP, no codec, no server
 * scheduler); thread-safe, results complete on the worker threads.
 */
final class InProcessTransport implements Transport {
  private final OnnxRuntimeBackend onnx;
  private final List<ModelInstance> instances;
  private final BlockingQueue<ModelInstance> idle;
  private final ExecutorService workers;
  private final ModelInfo model;
  private List<Sample> samples = List.of();

  private InProcessTransport(
      OnnxRuntimeBackend onnx, List<ModelInstance> instances, ModelInfo model) {
    this.onnx = onnx;
    this.instances = List.copyOf(instances);
    this.idle = new ArrayBlockingQueue<>(instances.size(), false, instances);
    this.workers =
        Executors.newFixedThreadPool(
            instances.size(), Thread.ofPlatform().name("bench-inproc-", 0).daemon(true).factory());
    this.model = model;
  }

  /**
   * Opens the newest version the model's version policy selects, configured exactly as the server
   * would configure it ({@code config.yaml} or {@code config.pbtxt} resolved by {@link
   * ModelConfigResolver}).
   *
   * @param intraOpThreads ONNX Runtime intra-op threads per instance; 0 keeps the configured value
   */
  static InProcessTransport open(Path repository, String modelName, int intraOpThreads)
      throws IOException, ConfigException, ModelLoadException {
    Path dir = repository.resolve(modelName);
    if (!Files.isDirectory(dir)) {
      throw new IOException("no model '" + modelName + "' in " + repository);
    }
    int cores = Runtime.getRuntime().availableProcessors();
    ModelConfigResolver resolver = new ModelConfigResolver(cores, 32);
    ModelConfigLoader.FolderConfig found =
        new ModelConfigLoader(List.of(new PbtxtConfigFormat())).readFolder(dir);
    ModelConfigFile file = found.config();
    Path configFile = found.file();
    ModelConfigResolver.Deployment d = resolver.deployment(modelName, file, configFile);
    SortedSet<Long> versions = new TreeSet<>();
    try (Stream<Path> entries = Files.list(dir)) {
      entries
          .map(p -> p.getFileName().toString())
          .filter(s -> s.matches("[1-9][0-9]{0,17}"))
          .forEach(s -> versions.add(Long.parseLong(s)));
    }
    long version =
        d.versionPolicy().select(versions).stream()
            .mapToLong(Long::longValue)
            .max()
            .orElseThrow(() -> new IOException("no servable version folder in " + dir));
    Path modelFile = dir.resolve(Long.toString(version)).resolve(d.modelFilename());
    SessionOptions options =
        intraOpThreads > 0
            ? d.sessionOptions().withIntraOpThreads(intraOpThreads)
            : d.sessionOptions();
    OnnxRuntimeBackend onnx = new OnnxRuntimeBackend();
    List<ModelInstance> instances = new ArrayList<>();
    try {
      for (int i = 0; i < d.instanceCount(); i++) {
        instances.add(onnx.load(modelFile, options));
      }
      ModelConfig config =
          resolver.complete(modelName, file, configFile, d, instances.get(0).signature());
      return new InProcessTransport(onnx, instances, ModelInfo.of(config));
    } catch (ConfigException | ModelLoadException | RuntimeException e) {
      instances.forEach(ModelInstance::close);
      onnx.close();
      throw e;
    }
  }

  ModelInfo model() {
    return model;
  }

  /** Sets the samples; call once, before the first {@link #send}. */
  void samples(List<Sample> s) {
    this.samples = List.copyOf(s);
  }

  @Override
  public CompletableFuture<Outcome> send(int sample) {
    try {
      List<Tensor> inputs = samples.get(sample).inputs();
      return CompletableFuture.supplyAsync(() -> run(inputs), workers)
          .handle((r, t) -> t == null ? r : classify(t));
    } catch (RuntimeException e) {
      return CompletableFuture.completedFuture(classify(e));
    }
  }

  private Outcome run(List<Tensor> inputs) {
    ModelInstance instance = idle.poll();
    if (instance == null) {
      throw new IllegalStateException("no idle instance: more workers than instances");
    }
    try {
      instance.execute(inputs, model.outputs());
      return Outcome.OK;
    } finally {
      idle.add(instance);
    }
  }

  private static Outcome classify(Throwable t) {
    Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    return c instanceof InferenceException ie ? Outcome.ofErrorCode(ie.code()) : Outcome.OTHER;
  }

  @Override
  public int samples() {
    return samples.size();
  }

  @Override
  public void close() {
    workers.shutdown();
    try {
      workers.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    instances.forEach(ModelInstance::close);
    onnx.close();
  }
}
