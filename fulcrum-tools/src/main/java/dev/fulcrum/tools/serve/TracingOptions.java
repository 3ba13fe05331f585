package dev.fulcrum.tools.serve;

import dev.fulcrum.server.HttpServer;
import dev.fulcrum.server.tracing.TraceSettings;
import dev.fulcrum.server.tracing.Tracing;
import java.net.URI;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/**
 * {@code fulcrum serve}'s tracing flags (docs/METRICS.md, "Distributed tracing"): where spans go
 * and which requests without a sampled parent are traced. Read once, on the main thread.
 */
final class TracingOptions {

  @Option(
      names = "--trace-otlp-endpoint",
      paramLabel = "URL",
      description =
          "Trace inference requests and export their spans over OTLP/HTTP (protobuf) to this"
              + " collector, such as http://localhost:4318 (/v1/traces is added to a URL without"
              + " a path). A request whose W3C traceparent is sampled is traced; others per"
              + " --trace-rate. Default: off (no trace header is read).")
  @Nullable URI otlpEndpoint;

  @Option(
      names = "--trace-rate",
      defaultValue = "0",
      paramLabel = "N",
      description =
          "With --trace-otlp-endpoint: also trace one request in every N that arrives without a"
              + " traceparent (Triton's trace_rate); 0 traces only requests whose caller sampled"
              + " them (default: ${DEFAULT-VALUE}).")
  long rate;

  @Option(
      names = "--trace-count",
      defaultValue = "-1",
      paramLabel = "N",
      description =
          "With --trace-otlp-endpoint: stop tracing after N traces (Triton's trace_count); -1:"
              + " no bound (default: ${DEFAULT-VALUE}).")
  long count;

  /** What is wrong with these flags, naming the flag; null when nothing is. */
  @Nullable String mistake() {
    if (otlpEndpoint == null) {
      return rate != 0 || count != -1
          ? "--trace-rate and --trace-count need --trace-otlp-endpoint (where the spans go)"
          : null;
    }
    if (rate < 0) {
      return "--trace-rate must be >= 0 (0: only requests whose caller sampled them), was " + rate;
    }
    if (count < -1) {
      return "--trace-count must be >= -1 (-1: no bound), was " + count;
    }
    try {
      Tracing.tracesUrl(otlpEndpoint);
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
    return null;
  }

  /** The server's tracing (flags checked by {@link #mistake}), or null when off. */
  @Nullable Tracing start() {
    URI endpoint = otlpEndpoint;
    return endpoint == null
        ? null
        : Tracing.otlp(endpoint, new TraceSettings(true, rate, count), HttpServer.version());
  }
}
