package dev.fulcrum.tools.monitor;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.monitoring.DriftListener;
import dev.fulcrum.monitoring.DriftMonitor;
import dev.fulcrum.monitoring.LogReplay;
import dev.fulcrum.monitoring.Observation;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;

/**
 * Replays a text pipeline's prediction log (its requests' text) through the pipeline itself, in
 * process, with the live {@link DriftMonitor} watching its passes: the log holds the sentences and
 * the normalized answers, while the monitor compares what each pass held (the token ids, the mask,
 * the wrapped model's hidden state), so the replay tokenizes and runs each logged request again,
 * one at a time and in the log's order, exactly as the server did (docs/MONITORING.md, "Text
 * models"). Runs on the calling thread, the model's engine threads and the monitor's thread; one
 * replay per instance.
 */
final class PipelineReplay implements AutoCloseable {
  private final OnnxRuntimeBackend onnx = new OnnxRuntimeBackend();
  private final SchedulerEnvironment environment = SchedulerEnvironment.system();
  private final DriftMonitor monitor;
  private final ModelRepository repository;
  private final InferenceService service;
  private final ModelVersion served;
  private final String model;
  private long replayed;
  private long rows;
  private long skipped;
  private final List<String> failures = new ArrayList<>();

  /**
   * Loads {@code model} (a pipeline) from {@code root} and starts a monitor that tells {@code
   * listener} of each alert.
   */
  PipelineReplay(Path root, String model, DriftListener listener) {
    this.model = model;
    this.monitor = new DriftMonitor(1 << 16, null, List.of(listener), true);
    ModelRepository repo = null;
    try {
      repo = InProcessModel.load(root, model, onnx, environment);
      this.served = InProcessModel.served(repo, model);
    } catch (RuntimeException | Error e) {
      if (repo != null) {
        repo.close();
      }
      close(monitor, environment, onnx);
      throw e;
    }
    this.repository = repo;
    this.service = new InferenceService(repo, false, monitor);
  }

  /** The version the replay runs (the repository's serving version of the pipeline). */
  ModelVersion served() {
    return served;
  }

  /**
   * Replays every line of {@link #model} in the files; other models' lines are skipped.
   *
   * @return the lines skipped as not logged requests
   */
  LogReplay.Reading replay(List<Path> files) throws IOException {
    return LogReplay.read(files, this::replay);
  }

  private void replay(Observation logged) {
    if (!logged.model().equals(model)) {
      skipped++;
      return;
    }
    List<Tensor> inputs = new ArrayList<>();
    for (Observation.Values v : logged.inputs()) {
      if (!v.isText()) {
        continue;
      }
      List<byte[]> elements = new ArrayList<>(v.strings().size());
      for (String s : v.strings()) {
        elements.add(s.getBytes(StandardCharsets.UTF_8));
      }
      inputs.add(Tensor.ofBytes(v.name(), v.shape(), elements));
    }
    if (inputs.isEmpty()) { // logged before text was, or a text larger than the log keeps
      failures.add(line(logged, "no text in the log"));
      return;
    }
    try {
      service
          .infer(
              new InferenceRequest(
                  model, served.versionString(), logged.id(), Map.of(), inputs, List.of()))
          .join();
      replayed++;
      rows += inputs.get(0).shape().length == 0 ? 1 : inputs.get(0).shape()[0];
    } catch (CompletionException | IllegalArgumentException | IllegalStateException e) {
      Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      failures.add(line(logged, String.valueOf(cause.getMessage())));
    }
  }

  private static String line(Observation o, String why) {
    return "request "
        + (o.id().isEmpty() ? "(no id)" : o.id())
        + " at "
        + o.epochMillis()
        + ": "
        + why;
  }

  /**
   * The monitor's verdict once it has compared every replayed row. A pass is handed to the monitor
   * just after its requests are answered, so the last one may still be on its way when the last
   * answer arrives: this waits for the rows, not only for an empty queue.
   */
  DriftReport report() throws IOException {
    long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
    try {
      while (true) {
        DriftReport r =
            monitor
                .drift(served)
                .orElseThrow(() -> new IOException("model " + model + " is not monitored"));
        if (monitor.awaitIdle(Duration.ofMinutes(5)) && r.observations() >= rows) {
          return monitor.drift(served).orElse(r);
        }
        if (System.nanoTime() > deadline) {
          throw new IOException(
              "the monitor compared " + r.observations() + " of the " + rows + " replayed rows");
        }
        Thread.sleep(2);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  /** Requests run again. */
  long replayed() {
    return replayed;
  }

  /** Lines of other models. */
  long skipped() {
    return skipped;
  }

  /** The logged requests that could not be run again, and why. */
  List<String> failures() {
    return List.copyOf(failures);
  }

  @Override
  public void close() {
    close(repository, monitor, environment, onnx);
  }

  private static void close(AutoCloseable... all) {
    for (AutoCloseable c : all) {
      try {
        c.close();
      } catch (Exception e) {
        // closing what an offline command opened: nothing to do about it
      }
    }
  }
}
