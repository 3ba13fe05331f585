package dev.fulcrum.tools.bench;

import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.HdrHistogram.Histogram;
import org.jspecify.annotations.Nullable;

/**
 * Bench's load machinery for another tool in the same process ({@code fulcrum tune}): one transport
 * to a running server's model, kept open across measurements, driven closed loop at a list of
 * concurrencies with the same warm-up, windows and coordinated-omission-free recording as {@code
 * fulcrum bench}. Confined to the calling thread; the load runs on the transport's threads.
 */
public final class LoadProbe implements AutoCloseable {

  /**
   * One closed-loop level as measured.
   *
   * @param load bench's label ({@code c=16})
   * @param inferencesPerSecond successful inferences per second
   * @param p50Ms median latency of successful requests
   * @param p99Ms 99th percentile latency of successful requests
   * @param ok successful requests measured
   * @param failed requests that failed (rejected, timed out, errors)
   * @param withinSlo successful requests answered within the SLO given ({@code ok} without one)
   */
  public record Level(
      String load,
      double inferencesPerSecond,
      double p50Ms,
      double p99Ms,
      long ok,
      long failed,
      long withinSlo) {}

  private final Transport transport;
  private final @Nullable GrpcChannels channels;
  private final int batch;
  private final int maxBatchSize;

  private LoadProbe(
      Transport transport, @Nullable GrpcChannels channels, int batch, int maxBatchSize) {
    this.transport = transport;
    this.channels = channels;
    this.batch = batch;
    this.maxBatchSize = maxBatchSize;
  }

  /**
   * A probe over REST with Triton's binary tensors, one request of one inference at a time per
   * virtual client, random inputs as bench makes them.
   *
   * @param base the server's REST base URL
   * @param maxConcurrency the most requests that will be outstanding (one connection each)
   * @param shapes bench's {@code --shape NAME:D1,D2,..} values for dynamic dimensions
   */
  public static LoadProbe rest(URI base, String model, int maxConcurrency, List<String> shapes)
      throws IOException, InterruptedException {
    URI b = URI.create(base.toString().endsWith("/") ? base.toString() : base + "/");
    ModelInfo info = new ServerApi(ServerApi.newClient(), b, model, "").modelInfo();
    List<Sample> samples = InputGenerator.random(info, BenchCommand.parseShapes(shapes), 1, 16, 42);
    RestTransport t =
        new RestTransport(
            b, info, "", samples, true, Duration.ofSeconds(30), 1, Math.max(1, maxConcurrency));
    return new LoadProbe(t, null, samples.get(0).batch(), info.maxBatchSize());
  }

  /** The same over gRPC (raw tensor contents) to {@code target} ({@code host:port}). */
  public static LoadProbe grpc(String target, String model, List<String> shapes)
      throws IOException {
    GrpcChannels channels = new GrpcChannels(target, 1, 1);
    try {
      ModelInfo info = new GrpcServerApi(channels, model, "").modelInfo();
      List<Sample> samples =
          InputGenerator.random(info, BenchCommand.parseShapes(shapes), 1, 16, 42);
      GrpcTransport t =
          new GrpcTransport(channels, info, "", samples, true, Duration.ofSeconds(30));
      return new LoadProbe(t, channels, samples.get(0).batch(), info.maxBatchSize());
    } catch (IOException | RuntimeException e) {
      channels.close();
      throw e;
    }
  }

  /** Whether a person watches stderr (a terminal), as bench decides for its progress line. */
  public static boolean interactive() {
    return BenchCommand.interactive();
  }

  /** The model's {@code max_batch_size} as its server reported it when the probe was opened. */
  public int maxBatchSize() {
    return maxBatchSize;
  }

  /**
   * The last error a request of this probe got (the status and the server's message, or the I/O
   * failure), if any; over REST only (gRPC: empty).
   */
  public Optional<String> lastError() {
    return transport instanceof RestTransport r ? r.lastError() : Optional.empty();
  }

  /** Parses bench's level syntax ({@code 8}, {@code 1:64:x2}, {@code 1:16:4}) as whole numbers. */
  public static List<Integer> parseConcurrencies(String spec) {
    return LoadLevels.parseInts(spec);
  }

  /**
   * Measures each concurrency in turn: {@code warmup}, then {@code windows} windows of {@code
   * window}. A level's throughput is the median of its windows' rates (one window that a pause of
   * the machine slowed, or a burst sped up, does not move it); its latencies are those of every
   * request in the windows, merged.
   *
   * @param sloMs counts successful requests within this latency; null: no SLO
   */
  public List<Level> run(
      List<Integer> concurrencies,
      Duration warmup,
      Duration window,
      int windows,
      @Nullable Double sloMs)
      throws InterruptedException {
    LoadRunner.Settings settings =
        new LoadRunner.Settings(
            warmup, window, 100, Math.max(1, windows), Duration.ofSeconds(31), 1024, false, 42);
    LoadRunner runner = new LoadRunner(settings, System::nanoTime, Optional::empty, s -> {});
    List<Level> out = new ArrayList<>();
    for (int c : concurrencies) {
      LevelResult r = runner.run("server", transport, new Load.Closed(c), batch);
      Histogram latency = r.stats().latency();
      long ok = r.stats().ok();
      long within =
          sloMs == null ? ok : latency.getCountBetweenValues(0, (long) (sloMs * 1_000_000));
      out.add(
          new Level(
              r.load().label(),
              r.windowRates().isEmpty() ? r.inferencesPerSecond() : median(r.windowRates()) * batch,
              latency.getValueAtPercentile(50) / 1e6,
              latency.getValueAtPercentile(99) / 1e6,
              ok,
              r.stats().errors(),
              Math.min(ok, within)));
    }
    return out;
  }

  private static double median(List<Double> values) {
    double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    int n = v.length;
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  @Override
  public void close() {
    transport.close();
    if (channels != null) {
      channels.close();
    }
  }
}
