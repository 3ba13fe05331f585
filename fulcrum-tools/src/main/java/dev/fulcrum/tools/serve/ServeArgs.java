package dev.fulcrum.tools.serve;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The cold-start path of {@code fulcrum serve}: reads its options without building picocli's
 * command tree, which loads and introspects every subcommand and ~175 picocli classes that the
 * JDK's AOT cache cannot hold (their Java 5 bytecode), all on the critical path of the first answer
 * (docs/PERFORMANCE.md, "Cold start").
 *
 * <p>The options are declared once for the user, by picocli's {@code @Option} and {@code @Mixin}
 * annotations on {@link ServeCommand} and its mixins (the help, the error messages, every command
 * line this does not take). This class holds the same options written out: each long name, its
 * default, and the field it sets, as plain code, because reading the annotations (their proxies)
 * and setting the fields by reflection ({@code Field.set}'s method-handle accessors, spun in every
 * JVM) cost the main thread ~0.05 s before the models' start (docs/PERFORMANCE.md, "Cold start",
 * sessions 18 and 19). {@code ServeArgsTest} checks the table against the annotations: every
 * option's name, default and field, so an option added to the annotations fails the test until it
 * is written here.
 *
 * <p>It handles the common shapes only ({@code --name value}, {@code --name=value}, repeatable list
 * options; strings, numbers, booleans, paths and URIs). Anything else (help, version, an unknown or
 * malformed option, a value that does not convert) makes {@link #parse} answer null, and the caller
 * hands the whole command line to picocli, which parses or reports it as before.
 *
 * <p>Thread-safety: stateless; called once, on the main thread.
 */
public final class ServeArgs {
  /**
   * Each option's default as the annotations give it (picocli's {@code defaultValue}), in pairs.
   */
  private static final List<String> DEFAULTS =
      List.of(
          "--host", "127.0.0.1",
          "--http-port", "8000",
          "--grpc-port", "8001",
          "--grpc-max-message-size", "67108864",
          "--grpc-max-metadata-bytes", "8192",
          "--metrics-port", "8002",
          "--allow-metrics", "true",
          "--allow-client-shm", "false",
          "--client-shm-regions-per-tenant", "128",
          "--metrics-histograms", "true",
          "--metrics-drift-detail", "true",
          "--request-timing-always", "false",
          "--log-slow-format", "logfmt",
          "--log-slow-max-lines-per-sec", "100",
          "--http-max-input-size", "67108864",
          "--http-thread-count", "0",
          "--transport", "auto",
          "--exit-timeout-secs", "30",
          "--shutdown-delay-secs", "0",
          "--strict-readiness", "true",
          "--model-load-thread-count", "4",
          "--model-control-mode", "none",
          "--repository-poll-secs", "15",
          "--model-load-max-bytes", "67108864",
          "--sagemaker-mme-max-models", "1000",
          "--default-max-batch-size", "32",
          "--cost-per-hour", "0",
          "--onnx-global-intra-op-threads", "auto",
          "--native-heap-trim-secs", "10",
          "--engine-thread-idle-secs", "0",
          "--http-header-timeout-secs", "10",
          "--http-idle-timeout-secs", "620",
          "--http-body-timeout-secs", "30",
          "--http-max-connections", "4096",
          "--http-accept-backlog", "1024",
          "--http-acceptors", "2",
          "--http-max-buffered-bytes", "1073741824",
          "--http-max-buffered-bytes-per-connection", "268435456",
          "--http2-max-concurrent-streams", "100",
          "--grpc-handshake-timeout-secs", "10",
          "--grpc-max-connection-idle-secs", "60",
          "--grpc-keepalive-time", "7200000",
          "--grpc-keepalive-timeout", "20000",
          "--grpc-http2-min-recv-ping-interval-without-data", "300000",
          "--grpc-keepalive-permit-without-calls", "false",
          "--grpc-max-concurrent-calls-per-connection", "100",
          "--grpc-max-buffered-bytes-per-connection", "268435456",
          "--grpc-max-connections", "4096",
          "--metrics-auth", "false",
          "--metrics-tls", "false",
          "--monitoring", "true",
          "--monitor-queue", "8192",
          "--monitor-max-rate", "10000",
          "--prediction-log-max-file-mb", "64",
          "--prediction-log-max-files", "10",
          "--prediction-log-sample-rate", "1.0",
          "--trace-rate", "0",
          "--trace-count", "-1");

  private ServeArgs() {}

  /**
   * Takes SIGTERM and SIGINT from the JVM's default (exit 143) as {@code main} begins, before the
   * command line and the logger; a signal from then on until the server wires its stop is
   * remembered, and {@code serve} then stops with 0 before starting anything (see {@link
   * TerminationSignals}). Moves work the start does anyway, adds none.
   */
  public static void takeStopSignals() {
    TerminationSignals.early();
  }

  /**
   * A {@link ServeCommand} with {@code args} (what follows {@code serve}) applied, or null when the
   * command line needs picocli (help, an error, a shape this does not handle).
   */
  public static @Nullable ServeCommand parse(List<String> args) {
    ServeCommand command = new ServeCommand();
    Set<String> seen = new HashSet<>();
    try {
      for (int i = 0; i < DEFAULTS.size(); i += 2) {
        set(command, DEFAULTS.get(i), DEFAULTS.get(i + 1), seen);
      }
      for (int i = 0; i < args.size(); i++) {
        String arg = args.get(i);
        if (!arg.startsWith("--")) {
          return null;
        }
        int eq = arg.indexOf('=');
        String name = eq < 0 ? arg : arg.substring(0, eq);
        String value;
        if (eq >= 0) {
          value = arg.substring(eq + 1);
        } else if (i + 1 < args.size()) {
          value = args.get(++i);
        } else {
          return null;
        }
        if (!set(command, name, value, seen)) {
          return null;
        }
      }
    } catch (IllegalArgumentException | URISyntaxException e) {
      return null; // a value that does not convert (NumberFormatException, InvalidPathException)
    }
    return command;
  }

  /**
   * Runs a parsed command as picocli's {@code execute} would: the exit code, 2 after a usage error
   * (message on stderr), 1 after any other failure (stack trace on stderr).
   */
  public static int run(ServeCommand command) {
    try {
      return command.call();
    } catch (picocli.CommandLine.ParameterException e) {
      System.err.println(e.getMessage());
      System.err.println("Run 'fulcrum serve --help' for its options.");
      return 2;
    } catch (Exception e) {
      e.printStackTrace();
      return 1;
    }
  }

  /**
   * Converts value for the option called name and stores it in c or its mixins (a list option's
   * first value replaces the field's initial list, as picocli does; later ones are appended); false
   * for a name this does not know.
   *
   * @throws IllegalArgumentException a value that does not convert (a number, a boolean, a path)
   * @throws URISyntaxException a URI that does not parse
   */
  static boolean set(ServeCommand c, String name, String value, Set<String> seen)
      throws URISyntaxException {
    switch (name) {
      case "--model-repository" ->
          c.repositories = append(c.repositories, Path.of(value), seen, name);
      case "--host" -> c.host = value;
      case "--http-port" -> c.httpPort = Integer.parseInt(value);
      case "--grpc-port" -> c.grpcPort = Integer.parseInt(value);
      case "--grpc-max-message-size" -> c.grpcMaxMessageSize = Integer.parseInt(value);
      case "--grpc-max-metadata-bytes" -> c.grpcMaxMetadataBytes = Integer.parseInt(value);
      case "--metrics-port" -> c.metricsPort = Integer.parseInt(value);
      case "--allow-metrics" -> c.allowMetrics = bool(value);
      case "--allow-client-shm" -> c.allowClientShm = bool(value);
      case "--client-shm-regions-per-tenant" ->
          c.clientShmRegionsPerTenant = Integer.parseInt(value);
      case "--metrics-histograms" -> c.metricsHistograms = bool(value);
      case "--metrics-drift-detail" -> c.metricsDriftDetail = bool(value);
      case "--request-timing-always" -> c.requestTimingAlways = bool(value);
      case "--log-slow-requests-ms" -> c.logSlowRequestsMs = value;
      case "--invocations-model" -> c.invocationsModel = value;
      case "--embeddings-model" -> c.embeddingsModel = value;
      case "--log-slow-format" -> c.logSlowFormat = value;
      case "--log-slow-max-lines-per-sec" -> c.logSlowMaxLinesPerSec = Integer.parseInt(value);
      case "--http-max-input-size" -> c.httpMaxInputSize = Integer.parseInt(value);
      case "--http-thread-count" -> c.httpThreads = Integer.parseInt(value);
      case "--transport" -> c.transport = value;
      case "--exit-timeout-secs" -> c.exitTimeoutSecs = Integer.parseInt(value);
      case "--shutdown-delay-secs" -> c.shutdownDelaySecs = Integer.parseInt(value);
      case "--strict-readiness" -> c.strictReadiness = bool(value);
      case "--model-load-thread-count" -> c.loadThreads = Integer.parseInt(value);
      case "--model-control-mode" -> c.modelControlMode = value;
      case "--load-model" -> c.loadModels = append(c.loadModels, value, seen, name);
      case "--repository-poll-secs" -> c.repositoryPollSecs = Integer.parseInt(value);
      case "--model-load-dir" -> c.modelLoadDir = Path.of(value);
      case "--model-load-max-bytes" -> c.modelLoadMaxBytes = Long.parseLong(value);
      case "--rollout-state-dir" -> c.rolloutStateDir = Path.of(value);
      case "--sagemaker-mme-root" -> c.sagemakerMmeRoot = Path.of(value);
      case "--sagemaker-mme-max-models" -> c.sagemakerMmeMaxModels = Integer.parseInt(value);
      case "--default-max-batch-size" -> c.defaultMaxBatchSize = Integer.parseInt(value);
      case "--cost-per-hour" -> c.costPerHour = Double.parseDouble(value);
      case "--native-heap-trim-secs" -> c.nativeHeapTrimSecs = Integer.parseInt(value);
      case "--engine-thread-idle-secs" -> c.engineThreadIdleSecs = Integer.parseInt(value);
      case "--onnx-optimized-cache" -> c.onnxOptimizedCache = bool(value);
      case "--onnx-optimized-cache-dir" -> c.onnxOptimizedCacheDir = Path.of(value);
      case "--onnx-global-intra-op-threads" -> c.onnxGlobalIntraOpThreads = value;
      case "--http-header-timeout-secs" -> c.limits.httpHeaderTimeoutSecs = Integer.parseInt(value);
      case "--http-idle-timeout-secs" -> c.limits.httpIdleTimeoutSecs = Integer.parseInt(value);
      case "--http-body-timeout-secs" -> c.limits.httpBodyTimeoutSecs = Integer.parseInt(value);
      case "--http-max-connections" -> c.limits.httpMaxConnections = Integer.parseInt(value);
      case "--http-accept-backlog" -> c.limits.httpAcceptBacklog = Integer.parseInt(value);
      case "--http-acceptors" -> c.limits.httpAcceptors = Integer.parseInt(value);
      case "--http-max-buffered-bytes" -> c.limits.httpMaxBufferedBytes = Long.parseLong(value);
      case "--http-max-buffered-bytes-per-connection" ->
          c.limits.httpMaxBufferedBytesPerConnection = Long.parseLong(value);
      case "--http2-max-concurrent-streams" ->
          c.limits.http2MaxConcurrentStreams = Integer.parseInt(value);
      case "--grpc-handshake-timeout-secs" ->
          c.limits.grpcHandshakeTimeoutSecs = Integer.parseInt(value);
      case "--grpc-max-connection-idle-secs" ->
          c.limits.grpcMaxConnectionIdleSecs = Integer.parseInt(value);
      case "--grpc-keepalive-time" -> c.limits.grpcKeepAliveTimeMs = Long.parseLong(value);
      case "--grpc-keepalive-timeout" -> c.limits.grpcKeepAliveTimeoutMs = Long.parseLong(value);
      case "--grpc-http2-min-recv-ping-interval-without-data" ->
          c.limits.grpcPermitKeepAliveTimeMs = Long.parseLong(value);
      case "--grpc-keepalive-permit-without-calls" ->
          c.limits.grpcPermitKeepAliveWithoutCalls = bool(value);
      case "--grpc-max-concurrent-calls-per-connection" ->
          c.limits.grpcMaxConcurrentCalls = Integer.parseInt(value);
      case "--grpc-max-buffered-bytes-per-connection" ->
          c.limits.grpcMaxBufferedBytesPerConnection = Long.parseLong(value);
      case "--grpc-max-connections" -> c.limits.grpcMaxConnections = Integer.parseInt(value);
      case "--auth-token-file" -> c.securityOptions.authTokenFile = Path.of(value);
      case "--tls-cert-file" -> c.securityOptions.tlsCertFile = Path.of(value);
      case "--tls-key-file" -> c.securityOptions.tlsKeyFile = Path.of(value);
      case "--tls-client-ca-file" -> c.securityOptions.tlsClientCaFile = Path.of(value);
      case "--metrics-auth" -> c.securityOptions.metricsAuth = bool(value);
      case "--metrics-tls" -> c.securityOptions.metricsTls = bool(value);
      case "--monitoring" -> c.monitoringOptions.monitoring = bool(value);
      case "--monitor-queue" -> c.monitoringOptions.monitorQueue = Integer.parseInt(value);
      case "--monitor-max-rate" -> c.monitoringOptions.monitorMaxRate = Long.parseLong(value);
      case "--drift-webhook" -> c.monitoringOptions.driftWebhook = new URI(value);
      case "--prediction-log" -> c.monitoringOptions.predictionLog = Path.of(value);
      case "--prediction-log-max-file-mb" ->
          c.monitoringOptions.predictionLogMaxFileMb = Integer.parseInt(value);
      case "--prediction-log-max-files" ->
          c.monitoringOptions.predictionLogMaxFiles = Integer.parseInt(value);
      case "--prediction-log-sample-rate" ->
          c.monitoringOptions.predictionLogSampleRate = Double.parseDouble(value);
      case "--trace-otlp-endpoint" -> c.tracingOptions.otlpEndpoint = new URI(value);
      case "--trace-rate" -> c.tracingOptions.rate = Long.parseLong(value);
      case "--trace-count" -> c.tracingOptions.count = Long.parseLong(value);
      default -> {
        return false;
      }
    }
    return true;
  }

  /**
   * A list option's list with value added: a new list at the option's first value (replacing the
   * field's initial value, as picocli does), the current one after.
   */
  private static <T> List<T> append(List<T> current, T value, Set<String> seen, String name) {
    List<T> list = seen.add(name) ? new ArrayList<>() : current;
    list.add(value);
    return list;
  }

  /** true or false, in any case, as picocli reads a boolean; anything else is refused. */
  private static boolean bool(String value) {
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "true" -> true;
      case "false" -> false;
      default -> throw new IllegalArgumentException("not a boolean: " + value);
    };
  }
}
