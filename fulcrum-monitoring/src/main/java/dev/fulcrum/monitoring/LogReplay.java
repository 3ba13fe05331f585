package dev.fulcrum.monitoring;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.config.MonitoringConfig;
import dev.fulcrum.core.monitor.DriftReport;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Replays prediction logs offline through the same {@link VersionMonitor} the live monitor uses, so
 * that {@code fulcrum skew-check} reaches the live verdict on the same rows (in the same order: one
 * instance, or a log of every request). Not thread-safe; one replay per instance.
 */
public final class LogReplay {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Baseline baseline;
  private final String baselineName;
  private final DetectorSettings settings;
  private final DriftListener listener;
  private final Map<String, VersionMonitor> versions = new LinkedHashMap<>();
  private long skipped;
  private final MonitoringConfig.@Nullable TextInput text;

  /**
   * @param baselineName the baseline as reports name it
   * @param listener told of each alert raised or cleared, in order
   */
  public LogReplay(
      Baseline baseline, String baselineName, DetectorSettings settings, DriftListener listener) {
    this(baseline, baselineName, settings, listener, null);
  }

  /**
   * @param text for a text model, its token-id input (config.yaml's {@code monitoring.text}): the
   *     logged ids and mask are turned into the derived features the live monitor compares
   */
  public LogReplay(
      Baseline baseline,
      String baselineName,
      DetectorSettings settings,
      DriftListener listener,
      MonitoringConfig.@Nullable TextInput text) {
    this.text = text;
    this.baseline = baseline;
    this.baselineName = baselineName;
    this.settings = settings;
    this.listener = listener;
  }

  /** Reads each file's lines in order; lines of other models are skipped. */
  public void replay(List<Path> files) throws IOException {
    read(files, this::observe);
  }

  /** What {@link #read} hands each logged request to. */
  @FunctionalInterface
  public interface Sink {
    void accept(Observation logged) throws IOException;
  }

  /**
   * Reads prediction log files' lines in order, each as the {@link Observation} the server logged
   * (a BYTES tensor as its text, {@link Observation.Values#strings}).
   *
   * @throws IOException when a file cannot be read, a line is not JSON, or the sink throws
   */
  public static void read(List<Path> files, Sink sink) throws IOException {
    for (Path f : files) {
      try (BufferedReader r = Files.newBufferedReader(f)) {
        String line;
        int n = 0;
        while ((line = r.readLine()) != null) {
          n++;
          if (line.isBlank()) {
            continue;
          }
          JsonNode node;
          try {
            node = JSON.readTree(line);
          } catch (IOException e) {
            throw new IOException(
                f.getFileName() + " line " + n + ": not JSON: " + e.getMessage(), e);
          }
          sink.accept(observation(node));
        }
      }
    }
  }

  /** Feeds one logged request. */
  void observe(JsonNode line) {
    observe(observation(line));
  }

  private void observe(Observation o) {
    String model = o.model();
    if (!model.equals(baseline.model())) {
      skipped++;
      return;
    }
    VersionMonitor vm =
        versions.computeIfAbsent(
            o.version(),
            v ->
                new VersionMonitor(
                    model,
                    v,
                    true,
                    baselineName,
                    baseline.inputs(),
                    baseline,
                    null,
                    settings,
                    text));
    vm.observe(o, (m, f, output) -> listener.changed(m.model(), m.version(), f, output));
  }

  private static Observation observation(JsonNode line) {
    return new Observation(
        null,
        line.path("model").asText(""),
        line.path("version").asText(""),
        line.path("id").asText(""),
        Instant.parse(line.path("time").asText("1970-01-01T00:00:00Z")).toEpochMilli(),
        (long) (line.path("latency_us").asDouble() * 1000),
        tensors(line.path("inputs")),
        tensors(line.path("outputs")));
  }

  private static List<Observation.Values> tensors(JsonNode object) {
    List<Observation.Values> out = new ArrayList<>();
    for (Map.Entry<String, JsonNode> e : object.properties()) {
      JsonNode shape = e.getValue().path("shape");
      JsonNode data = e.getValue().path("data");
      long[] s = new long[shape.size()];
      for (int i = 0; i < s.length; i++) {
        s[i] = shape.get(i).asLong();
      }
      if (!data.isEmpty() && data.get(0).isTextual()) { // a BYTES tensor's text
        List<String> text = new ArrayList<>(data.size());
        for (JsonNode x : data) {
          text.add(x.asText());
        }
        out.add(new Observation.Values(e.getKey(), s, new double[0], text));
        continue;
      }
      double[] d = new double[data.size()];
      for (int i = 0; i < d.length; i++) {
        JsonNode x = data.get(i);
        d[i] = x.isNumber() ? x.asDouble() : Double.NaN;
      }
      out.add(new Observation.Values(e.getKey(), s, d));
    }
    return out;
  }

  /** The verdict per version seen, in the order first seen. */
  public List<DriftReport> reports() {
    return versions.values().stream().map(v -> v.report(0)).toList();
  }

  /** Lines of other models. */
  public long skipped() {
    return skipped;
  }
}
