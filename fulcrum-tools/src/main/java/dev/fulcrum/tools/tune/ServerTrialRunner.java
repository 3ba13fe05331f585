package dev.fulcrum.tools.tune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fulcrum.tools.bench.LoadProbe;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Measures a trial on a running server: loads the model with the trial's configuration through the
 * repository API ({@code POST v2/repository/models/<m>/load} with a {@code config} override), then
 * drives {@code fulcrum bench}'s closed loop at each concurrency through a {@link LoadProbe}.
 * Confined to the search's thread.
 */
final class ServerTrialRunner implements TrialRunner {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * How long each level of a trial runs.
   *
   * @param warmup before measuring, after the load (the new sessions' first passes are slow)
   * @param window one of {@code windows} measurement windows, merged
   */
  record Timing(Duration warmup, Duration window, int windows) {

    /** Splits {@code trial} evenly over {@code levels}: a quarter warm-up, three windows. */
    static Timing of(Duration trial, int levels) {
      Duration level = trial.dividedBy(Math.max(1, levels));
      Duration quarter = level.dividedBy(4);
      return new Timing(quarter, quarter, 3);
    }
  }

  private final HttpClient client;
  private final URI base;
  private final String model;
  private final TrialConfig config;
  private final List<Integer> concurrencies;
  private final Timing timing;
  private final @Nullable Double sloMs;
  private @Nullable LoadProbe probe;

  ServerTrialRunner(
      URI base,
      String model,
      TrialConfig config,
      List<Integer> concurrencies,
      Timing timing,
      @Nullable Double sloMs) {
    this.client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    this.base = base;
    this.model = model;
    this.config = config;
    this.concurrencies = List.copyOf(concurrencies);
    this.timing = timing;
    this.sloMs = sloMs;
  }

  Timing timing() {
    return timing;
  }

  /** Uses this probe for every trial (opened once the model is loaded; closed by the caller). */
  void probe(LoadProbe p) {
    this.probe = p;
  }

  @Override
  public List<LevelPoint> measure(Knobs knobs) throws TrialException, InterruptedException {
    return measureConfig(config.with(knobs, sloMs));
  }

  /** Loads this whole configuration of the model and measures it as a trial. */
  List<LevelPoint> measureConfig(ObjectNode configuration)
      throws TrialException, InterruptedException {
    LoadProbe p = probe;
    if (p == null) {
      throw new IllegalStateException("no load probe yet");
    }
    load(configuration);
    List<LevelPoint> out = new ArrayList<>();
    for (LoadProbe.Level l :
        p.run(concurrencies, timing.warmup(), timing.window(), timing.windows(), sloMs)) {
      out.add(
          new LevelPoint(
              l.load(),
              l.inferencesPerSecond(),
              l.p50Ms(),
              l.p99Ms(),
              l.ok(),
              l.failed(),
              l.withinSlo()));
    }
    return out;
  }

  /**
   * Loads the model with this configuration (null: its own files) and waits until it serves.
   *
   * @throws TrialException with the server's reason when it refuses
   */
  void load(@Nullable ObjectNode override) throws TrialException, InterruptedException {
    ObjectNode body = JSON.createObjectNode();
    if (override != null) {
      body.putObject("parameters").put("config", TrialConfig.json(override));
    }
    HttpResponse<String> r;
    try {
      r =
          client.send(
              HttpRequest.newBuilder(base.resolve("v2/repository/models/" + model + "/load"))
                  .timeout(Duration.ofMinutes(5))
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new TrialException("load request failed: " + e.getMessage(), e);
    }
    if (r.statusCode() != 200) {
      throw new TrialException(errorOf(r.body(), r.statusCode()));
    }
  }

  /**
   * Whether the server knows {@code slo:} in a configuration (the SLO batching policy): one load of
   * the model's own configuration plus an SLO; refused as an unknown field when it does not.
   */
  boolean acceptsSlo(double ms) throws InterruptedException {
    try {
      load(config.withSlo(ms));
      return true;
    } catch (TrialException e) {
      return false;
    }
  }

  private static String errorOf(String body, int status) {
    try {
      JsonNode n = JSON.readTree(body);
      if (n != null && n.path("error").isTextual()) {
        return n.path("error").asText();
      }
    } catch (IOException e) {
      // not JSON: quote it as it is
    }
    return "HTTP " + status + " " + body;
  }
}
