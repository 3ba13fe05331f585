package dev.fulcrum.server.tracing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.server.RateLimitedLog;
import dev.fulcrum.server.TraceParent;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.TraceStateBuilder;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;

/**
 * The server's tracing, when {@code fulcrum serve --trace-otlp-endpoint} turns it on: decides which
 * requests are traced (a {@code traceparent} whose caller sampled it, else one in {@code
 * trace_rate}; {@link TraceSettingsStore}), and makes their spans after the answer, from the times
 * already measured, on the thread that answers (an event loop). Spans wait in a bounded queue for
 * the OpenTelemetry SDK's exporter thread, which sends them over OTLP/HTTP; a request never waits
 * for the collector: a full queue drops the trace (counted), a failed export is counted and logged
 * once a minute at most. Thread-safe.
 */
public final class Tracing implements AutoCloseable {
  /** The W3C Trace Context headers (and gRPC metadata keys). */
  public static final String TRACEPARENT = "traceparent";

  public static final String TRACESTATE = "tracestate";

  /** Spans waiting for the exporter at most; a trace that would pass it is dropped whole. */
  static final int MAX_QUEUED_SPANS = 2048;

  /** The OTLP/HTTP path of traces, added to an endpoint given without one. */
  static final String TRACES_PATH = "/v1/traces";

  private static final org.slf4j.Logger log = LoggerFactory.getLogger(Tracing.class);

  /**
   * The SDK's exporter logs each failed export at SEVERE through java.util.logging, a line (and
   * stack) per batch against an unreachable collector; this class logs them instead, rate-limited.
   * Held here: java.util.logging keeps loggers weakly, and a collected one loses its level.
   */
  private static final Logger SDK_EXPORT_LOG = Logger.getLogger("io.opentelemetry.exporter");

  /** The most list members a W3C {@code tracestate} has. */
  private static final int MAX_TRACESTATE_MEMBERS = 32;

  private static final Pattern MEMBER_SEPARATOR = Pattern.compile("[ \t]*,[ \t]*");

  private final SdkTracerProvider provider;
  private final Tracer tracer;
  private final TraceSettingsStore settings;
  private final String destination;
  private final AtomicInteger queued = new AtomicInteger();
  private final AtomicLong traces = new AtomicLong();
  private final AtomicLong dropped = new AtomicLong();
  private final AtomicLong exported = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final RateLimitedLog warnings = new RateLimitedLog(log, Duration.ofMinutes(1));
  private final long anchorEpochNanos;
  private final long anchorNanoTime;

  private Tracing(
      SpanExporter exporter,
      boolean batch,
      TraceSettings startup,
      String destination,
      String serviceVersion) {
    this.settings = new TraceSettingsStore(startup);
    this.destination = destination;
    SpanExporter counted = new CountingExporter(exporter);
    SpanProcessor processor =
        batch
            ? BatchSpanProcessor.builder(counted)
                // Above this class's own bound, so the SDK's queue never drops a span itself.
                .setMaxQueueSize(MAX_QUEUED_SPANS * 2)
                .setMaxExportBatchSize(512)
                .setScheduleDelay(Duration.ofMillis(500))
                .setExporterTimeout(Duration.ofSeconds(10))
                .build()
            : SimpleSpanProcessor.create(counted);
    String service = System.getenv("OTEL_SERVICE_NAME");
    this.provider =
        SdkTracerProvider.builder()
            .setSampler(Sampler.alwaysOn()) // the decision is made here, before any span
            .setResource(
                Resource.getDefault()
                    .merge(
                        Resource.create(
                            Attributes.of(
                                AttributeKey.stringKey("service.name"),
                                service == null || service.isBlank() ? "fulcrum" : service,
                                AttributeKey.stringKey("service.version"),
                                serviceVersion))))
            .addSpanProcessor(processor)
            .build();
    this.tracer = provider.get("dev.fulcrum.server", serviceVersion);
    Instant now = Instant.now();
    this.anchorNanoTime = System.nanoTime();
    this.anchorEpochNanos = now.getEpochSecond() * 1_000_000_000L + now.getNano();
  }

  /**
   * Tracing that exports over OTLP/HTTP (protobuf) to {@code endpoint}, batched on the SDK's
   * thread.
   *
   * @param endpoint the collector, e.g. {@code http://localhost:4318} ({@value #TRACES_PATH} is
   *     added when it has no path)
   */
  public static Tracing otlp(URI endpoint, TraceSettings startup, String serviceVersion) {
    String url = tracesUrl(endpoint);
    SDK_EXPORT_LOG.setLevel(Level.OFF);
    OtlpHttpSpanExporter exporter =
        OtlpHttpSpanExporter.builder().setEndpoint(url).setTimeout(Duration.ofSeconds(5)).build();
    return new Tracing(exporter, true, startup, url, serviceVersion);
  }

  /** Tracing that hands each span to {@code exporter} as it ends (tests). */
  public static Tracing direct(SpanExporter exporter, TraceSettings startup) {
    return new Tracing(exporter, false, startup, exporter.toString(), "test");
  }

  /**
   * The URL spans are posted to.
   *
   * @throws IllegalArgumentException naming what is wrong with the endpoint
   */
  public static String tracesUrl(URI endpoint) {
    String scheme =
        endpoint.getScheme() == null ? "" : endpoint.getScheme().toLowerCase(Locale.ROOT);
    if ((!scheme.equals("http") && !scheme.equals("https")) || endpoint.getHost() == null) {
      throw new IllegalArgumentException(
          "--trace-otlp-endpoint must be an http:// or https:// URL of an OTLP/HTTP collector, e.g."
              + " http://localhost:4318, was '"
              + endpoint
              + "'");
    }
    String s = endpoint.toString();
    String path = endpoint.getRawPath();
    if (path == null || path.isEmpty() || path.equals("/")) {
      return (s.endsWith("/") ? s.substring(0, s.length() - 1) : s) + TRACES_PATH;
    }
    return s;
  }

  /** The settings in force (Triton's trace setting endpoints change them). */
  public TraceSettingsStore settings() {
    return settings;
  }

  /**
   * Triton's trace setting read, for REST and gRPC alike: the settings in force for a model (null:
   * the server's); OFF on a server without tracing.
   */
  public static TraceSettings read(@Nullable Tracing tracing, @Nullable String model) {
    return tracing == null ? TraceSettings.OFF : tracing.settings.get(model);
  }

  /**
   * Triton's trace setting update, for REST and gRPC alike ({@link TraceSettingsStore#update}).
   *
   * @throws dev.fulcrum.core.error.InferenceException INVALID_ARGUMENT for a bad setting, or on a
   *     server without tracing, where no span could be sent anywhere
   */
  public static TraceSettings update(
      @Nullable Tracing tracing, @Nullable String model, JsonNode body) {
    if (tracing == null) {
      throw InferenceException.invalid(
          "tracing is off on this server: start it with --trace-otlp-endpoint URL (an OTLP/HTTP"
              + " collector) to trace requests and change these settings");
    }
    return tracing.settings.update(model, body);
  }

  /** Whether any request may be traced now: false means no request header need be read. */
  public boolean active() {
    return settings.anyOn();
  }

  /**
   * Decides whether a request is traced, counting it against the sampling rate and count (parsing
   * its headers first: tests, and callers that have not parsed them).
   */
  public @Nullable TracedRequest begin(
      String model,
      @Nullable String traceparent,
      @Nullable String tracestate,
      TracedRequest.Protocol protocol) {
    return begin(model, TraceParent.parse(traceparent, tracestate), protocol);
  }

  /**
   * Decides whether a request is traced, counting it against the sampling rate and count.
   *
   * @param trace the request's W3C trace context, parsed when it arrived, or null (no valid {@code
   *     traceparent}: no parent); its {@code tracestate} is kept on the request's spans
   * @return the traced request, or null when it is not traced
   */
  public @Nullable TracedRequest begin(
      String model, @Nullable TraceParent trace, TracedRequest.Protocol protocol) {
    if (!settings.sample(model, trace != null, trace != null && trace.sampled())) {
      return null;
    }
    if (queued.get() > MAX_QUEUED_SPANS - TracedRequest.MAX_SPANS) {
      droppedFull();
      return null;
    }
    return new TracedRequest(this, parent(trace), System.nanoTime(), protocol);
  }

  /** Counts a trace dropped because the span queue is full, and says so (rate-limited). */
  private void droppedFull() {
    long n = dropped.incrementAndGet();
    warnings.log(
        org.slf4j.event.Level.WARN,
        "dropped",
        "tracing: the span queue is full ("
            + MAX_QUEUED_SPANS
            + " spans wait for "
            + destination
            + "): traces are dropped, "
            + n
            + " so far; requests are not held for it",
        null);
  }

  /** The caller's span as a parent (only for a request that is traced), or the root. */
  private static Context parent(@Nullable TraceParent trace) {
    if (trace == null) {
      return Context.root();
    }
    SpanContext remote =
        SpanContext.createFromRemoteParent(
            trace.traceId(),
            trace.parentId(),
            TraceFlags.fromByte(trace.flags()),
            traceState(trace.state()));
    return Context.root().with(Span.wrap(remote));
  }

  /**
   * A W3C {@code tracestate} header as OpenTelemetry's propagator reads it: its list members in
   * order (at most 32), or none at all when any member is malformed.
   */
  static TraceState traceState(@Nullable String header) {
    if (header == null || header.isBlank()) {
      return TraceState.getDefault();
    }
    String[] members = MEMBER_SEPARATOR.split(header.trim());
    if (members.length > MAX_TRACESTATE_MEMBERS) {
      return TraceState.getDefault();
    }
    TraceStateBuilder b = TraceState.builder();
    int given = 0;
    // The builder puts each entry in front of those before it: the last member goes in first.
    for (int i = members.length - 1; i >= 0; i--) {
      if (members[i].isEmpty()) {
        continue; // W3C allows empty list members
      }
      int eq = members[i].indexOf('=');
      if (eq < 0) {
        return TraceState.getDefault();
      }
      b.put(members[i].substring(0, eq), members[i].substring(eq + 1));
      given++;
    }
    TraceState state = b.build();
    // The builder leaves out an invalid key or value: then the whole header is dropped (W3C).
    return state.size() == given ? state : TraceState.getDefault();
  }

  Tracer tracer() {
    return tracer;
  }

  /**
   * A trace's spans about to be handed to the SDK's queue. {@link #begin} made room for {@link
   * TracedRequest#MAX_SPANS}; a trace of more (an embeddings request run as several core requests:
   * two spans each) is queued only if it fits under the bound, else it is dropped whole and counted
   * so: past the bound the SDK's queue (twice the bound) would drop spans itself, and those never
   * leave {@link #queued}, which then keeps every later trace out.
   *
   * @return whether the caller makes the spans
   */
  boolean queue(int spans) {
    if (spans <= TracedRequest.MAX_SPANS) {
      queued.addAndGet(spans);
    } else {
      int q;
      do {
        q = queued.get();
        if (q + spans > MAX_QUEUED_SPANS) {
          droppedFull();
          return false;
        }
      } while (!queued.compareAndSet(q, q + spans));
    }
    traces.incrementAndGet();
    return true;
  }

  /** Spans made and not yet handed to the exporter. */
  int queuedSpans() {
    return queued.get();
  }

  /** {@code System.nanoTime()} on the epoch (the span timestamps' clock). */
  long epochNanos(long nanoTime) {
    return anchorEpochNanos + (nanoTime - anchorNanoTime);
  }

  /** Traces whose spans were made and queued for the exporter ({@code fulcrum_traces_total}). */
  public long queuedTraces() {
    return traces.get();
  }

  /** Traces dropped because the span queue was full. */
  public long dropped() {
    return dropped.get();
  }

  /** Spans the collector took ({@code fulcrum_trace_spans_total{outcome="exported"}}). */
  public long exportedSpans() {
    return exported.get();
  }

  /** Spans whose export failed. */
  public long failedSpans() {
    return failed.get();
  }

  /**
   * Sends the spans still queued and stops the exporter, waiting {@code bound} at most (a collector
   * that does not answer must not hold the server's exit).
   */
  public void close(Duration bound) {
    CompletableResultCode done = provider.shutdown().join(bound.toMillis(), TimeUnit.MILLISECONDS);
    if (!done.isDone()) {
      log.warn(
          "tracing: spans still queued for {} after {} ms at shutdown were not sent",
          destination,
          bound.toMillis());
    }
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(2));
  }

  /** Counts the spans leaving the queue, and the failed exports, which it logs rate-limited. */
  private final class CountingExporter implements SpanExporter {
    private final SpanExporter delegate;

    CountingExporter(SpanExporter delegate) {
      this.delegate = delegate;
    }

    @Override
    public CompletableResultCode export(Collection<SpanData> spans) {
      int n = spans.size();
      queued.addAndGet(-n);
      CompletableResultCode r = delegate.export(spans);
      r.whenComplete(
          () -> {
            if (r.isSuccess()) {
              exported.addAndGet(n);
            } else {
              long all = failed.addAndGet(n);
              Throwable cause = r.getFailureThrowable();
              warnings.log(
                  org.slf4j.event.Level.WARN,
                  "export",
                  "tracing: "
                      + n
                      + " spans could not be exported to "
                      + destination
                      + (cause == null ? "" : " (" + cause + ")")
                      + "; "
                      + all
                      + " so far, "
                      + dropped.get()
                      + " traces dropped at a full queue; requests are not held for it",
                  null);
            }
          });
      return r;
    }

    @Override
    public CompletableResultCode flush() {
      return delegate.flush();
    }

    @Override
    public CompletableResultCode shutdown() {
      return delegate.shutdown();
    }
  }
}
