package dev.fulcrum.server.tracing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestTiming;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.net.URI;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The sampling rules (parent-based, rate, count, level), the spans a traced request makes (parent,
 * trace state, children placed inside the server span in order) and their error status, and
 * Triton's trace settings (JSON shapes, model overrides, 400s), against an in-memory exporter. No
 * durations are asserted, only the order of timestamps.
 */
class TracingTest {
  private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
  private static final String PARENT_ID = "00f067aa0ba902b7";
  private static final String SAMPLED = "00-" + TRACE_ID + "-" + PARENT_ID + "-01";
  private static final String NOT_SAMPLED = "00-" + TRACE_ID + "-" + PARENT_ID + "-00";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final InMemorySpanExporter exporter = InMemorySpanExporter.create();
  private Tracing tracing;

  private Tracing tracing(long rate, long count) {
    tracing = Tracing.direct(exporter, new TraceSettings(true, rate, count));
    return tracing;
  }

  @AfterEach
  void close() {
    if (tracing != null) {
      tracing.close();
    }
  }

  private static InferenceResponse answer(RequestTiming timing) {
    return new InferenceResponse("m", "1", "", Map.of(), List.of(), timing);
  }

  private static SpanData named(List<SpanData> spans, String name) {
    return spans.stream().filter(s -> s.getName().equals(name)).findFirst().orElseThrow();
  }

  @Test
  void aSampledParentIsTracedAsItsChildWithItsTraceStateAndTheTimesInOrder() throws Exception {
    Tracing t = tracing(0, -1);
    TracedRequest r = t.begin("m", SAMPLED, "vendor=abc", TracedRequest.Protocol.HTTP_JSON);
    assertThat(r).isNotNull();
    Thread.sleep(2);
    long ready = System.nanoTime();
    // 1500 us in all: 300 queued, 900 computing, in a pass of 8 rows
    r.endHttp(
        "m",
        "",
        false,
        200,
        answer(RequestTiming.ofPass(300_000, 900_000, 8, 2, 1_500_000)),
        ready,
        null,
        null);
    List<SpanData> spans = exporter.getFinishedSpanItems();
    assertThat(spans).hasSize(3);
    SpanData server = named(spans, "POST /v2/models/{model}/infer");
    SpanData queue = named(spans, "queue");
    SpanData compute = named(spans, "compute");
    assertThat(server.getKind()).isEqualTo(SpanKind.SERVER);
    assertThat(server.getTraceId()).isEqualTo(TRACE_ID);
    assertThat(server.getParentSpanId()).isEqualTo(PARENT_ID);
    assertThat(server.getParentSpanContext().isRemote()).isTrue();
    assertThat(server.getSpanContext().getTraceState().get("vendor")).isEqualTo("abc");
    assertThat(server.getStatus().getStatusCode()).isEqualTo(StatusCode.UNSET);
    assertThat(server.getAttributes().get(TracedRequest.MODEL_NAME)).isEqualTo("m");
    assertThat(server.getAttributes().get(TracedRequest.MODEL_VERSION)).isEqualTo("1");
    assertThat(server.getAttributes().get(TracedRequest.HTTP_STATUS)).isEqualTo(200L);
    assertThat(server.getAttributes().get(TracedRequest.PROTOCOL)).isEqualTo("http/json");
    assertThat(server.getAttributes().get(TracedRequest.REQUEST_ROWS)).isEqualTo(2L);
    assertThat(server.getAttributes().get(TracedRequest.CACHE_HIT)).isFalse();
    for (SpanData child : List.of(queue, compute)) {
      assertThat(child.getTraceId()).isEqualTo(TRACE_ID);
      assertThat(child.getParentSpanId()).isEqualTo(server.getSpanId());
      assertThat(child.getStartEpochNanos()).isGreaterThanOrEqualTo(server.getStartEpochNanos());
      assertThat(child.getEndEpochNanos()).isLessThanOrEqualTo(server.getEndEpochNanos());
      assertThat(child.getEndEpochNanos()).isGreaterThanOrEqualTo(child.getStartEpochNanos());
    }
    assertThat(queue.getEndEpochNanos()).isEqualTo(compute.getStartEpochNanos());
    assertThat(compute.getAttributes().get(TracedRequest.BATCH_ROWS)).isEqualTo(8L);
  }

  @Test
  void anUnsampledParentIsNotTracedAndNoParentOnlyAtTheRate() {
    Tracing t = tracing(3, -1);
    assertThat(t.begin("m", NOT_SAMPLED, null, TracedRequest.Protocol.GRPC)).isNull();
    int traced = 0;
    for (int i = 0; i < 9; i++) {
      if (t.begin("m", null, null, TracedRequest.Protocol.GRPC) != null) {
        traced++;
      }
    }
    assertThat(traced).as("one in every 3").isEqualTo(3);
    // An invalid traceparent is no parent: the rate decides (W3C: restart the trace).
    assertThat(t.begin("m", "00-zz-yy-01", null, TracedRequest.Protocol.GRPC)).isNull();
  }

  @Test
  void rateZeroTracesOnlySampledParentsAndTheCountBoundsEveryTrace() {
    Tracing t = tracing(0, 2);
    assertThat(t.begin("m", null, null, TracedRequest.Protocol.HTTP_JSON)).isNull();
    assertThat(t.begin("m", SAMPLED, null, TracedRequest.Protocol.HTTP_JSON)).isNotNull();
    assertThat(t.begin("m", SAMPLED, null, TracedRequest.Protocol.HTTP_JSON)).isNotNull();
    assertThat(t.begin("m", SAMPLED, null, TracedRequest.Protocol.HTTP_JSON)).isNull();
    assertThat(TraceSettingsStore.json(t.settings().get(null)))
        .containsEntry(TraceSettings.TRACE_COUNT, "0");
  }

  @Test
  void levelOffTracesNothingAndReadsNoHeader() throws Exception {
    Tracing t = tracing(1, -1);
    t.settings().update(null, JSON.readTree("{\"trace_level\":[\"OFF\"]}"));
    assertThat(t.active()).isFalse();
    assertThat(t.begin("m", SAMPLED, null, TracedRequest.Protocol.HTTP_JSON)).isNull();
    // A model turned on alone: the server is active again, for that model only.
    t.settings().update("m", JSON.readTree("{\"trace_level\":[\"TIMESTAMPS\"]}"));
    assertThat(t.active()).isTrue();
    assertThat(t.begin("other", SAMPLED, null, TracedRequest.Protocol.HTTP_JSON)).isNull();
    assertThat(t.begin("m", SAMPLED, null, TracedRequest.Protocol.HTTP_JSON)).isNotNull();
  }

  @Test
  void aServerErrorIsAnErrorSpanAClientErrorOnlyNamesItsType() {
    Tracing t = tracing(1, -1);
    t.begin("m", null, null, TracedRequest.Protocol.HTTP_JSON)
        .endHttp("m", "2", true, 503, null, System.nanoTime(), "UNAVAILABLE", "shutting down");
    t.begin("m", null, null, TracedRequest.Protocol.HTTP_BINARY)
        .endHttp("m", "", false, 400, null, System.nanoTime(), "INVALID_ARGUMENT", "bad shape");
    t.begin("m", SAMPLED, null, TracedRequest.Protocol.GRPC)
        .endGrpc("m", "", 13, true, null, System.nanoTime(), "INTERNAL", "boom");
    List<SpanData> spans = exporter.getFinishedSpanItems();
    assertThat(spans).hasSize(3);
    SpanData unavailable = spans.get(0);
    assertThat(unavailable.getName()).isEqualTo("POST /v2/models/{model}/versions/{version}/infer");
    assertThat(unavailable.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    assertThat(unavailable.getStatus().getDescription()).isEqualTo("shutting down");
    assertThat(unavailable.getAttributes().get(TracedRequest.ERROR_TYPE)).isEqualTo("UNAVAILABLE");
    assertThat(unavailable.getAttributes().get(TracedRequest.MODEL_VERSION)).isEqualTo("2");
    SpanData invalid = spans.get(1);
    assertThat(invalid.getStatus().getStatusCode()).isEqualTo(StatusCode.UNSET);
    assertThat(invalid.getAttributes().get(TracedRequest.ERROR_TYPE)).isEqualTo("INVALID_ARGUMENT");
    assertThat(invalid.getAttributes().get(TracedRequest.PROTOCOL)).isEqualTo("http/binary");
    SpanData grpc = spans.get(2);
    assertThat(grpc.getName()).isEqualTo("inference.GRPCInferenceService/ModelInfer");
    assertThat(grpc.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    assertThat(grpc.getAttributes().get(TracedRequest.GRPC_STATUS)).isEqualTo(13L);
    assertThat(grpc.getTraceId()).isEqualTo(TRACE_ID);
  }

  @Test
  void theTraceStateIsReadAsOpenTelemetrysPropagatorReadsIt() {
    // Parsed once with the traceparent (TraceParent), not by the propagator a second time: the
    // same TraceState, member order and the drop of a malformed header included.
    java.util.List<String> headers =
        java.util.List.of(
            "",
            "vendor=abc",
            "a=1,b=2, c=3",
            "a=1 ,\tb=2",
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
            "a=1,nokey",
            "a=1,B=2",
            "a=1,,b=2",
            ",a=1",
            " , ",
            "a=1,a=2",
            "a=" + "x".repeat(300),
            String.join(
                ",",
                java.util.stream.IntStream.range(0, 33).mapToObj(i -> "k" + i + "=v").toList()));
    for (String h : headers) {
      io.opentelemetry.context.Context c =
          io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator.getInstance()
              .extract(
                  io.opentelemetry.context.Context.root(),
                  java.util.Map.of(),
                  new io.opentelemetry.context.propagation.TextMapGetter<
                      java.util.Map<String, String>>() {
                    @Override
                    public @org.jspecify.annotations.Nullable String get(
                        java.util.@org.jspecify.annotations.Nullable Map<String, String> carrier,
                        String key) {
                      return key.equals("traceparent") ? SAMPLED : h;
                    }
                  });
      assertThat(Tracing.traceState(h))
          .as("tracestate %s", h)
          .isEqualTo(
              io.opentelemetry.api.trace.Span.fromContext(c).getSpanContext().getTraceState());
    }
    assertThat(Tracing.traceState(null))
        .isEqualTo(io.opentelemetry.api.trace.TraceState.getDefault());
  }

  @Test
  void anEnsemblesRequestHasAStepSpanPerStepWithItsQueueAndComputeUnderIt() throws Exception {
    Tracing t = tracing(0, -1);
    TracedRequest r = t.begin("m", SAMPLED, null, TracedRequest.Protocol.GRPC);
    assertThat(r).isNotNull();
    Thread.sleep(2);
    // 1400 us in all: scale from 0 for 600 us, then classify from 700 us for 550 us
    RequestTiming ensemble =
        RequestTiming.ofEnsemble(
            1,
            1_400_000,
            List.of(
                new RequestTiming.EnsembleStep(
                    0, "scale", "1", 0, RequestTiming.ofPass(100_000, 400_000, 4, 1, 600_000)),
                new RequestTiming.EnsembleStep(
                    1,
                    "classify",
                    "3",
                    700,
                    RequestTiming.ofPass(200_000, 300_000, 2, 1, 550_000))));
    r.endGrpc("m", "", 0, false, answer(ensemble), System.nanoTime(), null, null);
    List<SpanData> spans = exporter.getFinishedSpanItems();
    assertThat(spans).hasSize(7);
    SpanData server = named(spans, TracedRequest.GRPC_SERVICE + "/ModelInfer");
    SpanData scale = named(spans, "step 0 scale");
    SpanData classify = named(spans, "step 1 classify");
    for (SpanData step : List.of(scale, classify)) {
      assertThat(step.getParentSpanId()).isEqualTo(server.getSpanId());
      assertThat(step.getStartEpochNanos()).isGreaterThanOrEqualTo(server.getStartEpochNanos());
      assertThat(step.getEndEpochNanos()).isLessThanOrEqualTo(server.getEndEpochNanos());
      List<SpanData> under =
          spans.stream().filter(x -> x.getParentSpanId().equals(step.getSpanId())).toList();
      assertThat(under).extracting(SpanData::getName).containsExactlyInAnyOrder("queue", "compute");
      for (SpanData child : under) {
        assertThat(child.getStartEpochNanos()).isGreaterThanOrEqualTo(step.getStartEpochNanos());
        assertThat(child.getEndEpochNanos()).isLessThanOrEqualTo(step.getEndEpochNanos());
      }
    }
    assertThat(classify.getStartEpochNanos()).isGreaterThan(scale.getStartEpochNanos());
    assertThat(classify.getAttributes().get(TracedRequest.MODEL_NAME)).isEqualTo("classify");
    assertThat(classify.getAttributes().get(TracedRequest.MODEL_VERSION)).isEqualTo("3");
    assertThat(classify.getAttributes().get(TracedRequest.ENSEMBLE_STEP)).isEqualTo(1L);
    assertThat(server.getAttributes().get(TracedRequest.MODEL_NAME)).isEqualTo("m");
  }

  @Test
  void aCacheHitHasNoQueueOrComputeSpan() {
    Tracing t = tracing(1, -1);
    t.begin("m", null, null, TracedRequest.Protocol.HTTP_JSON)
        .endHttp(
            "m",
            "",
            false,
            200,
            answer(RequestTiming.ofCacheHit(1, 5_000)),
            System.nanoTime(),
            null,
            null);
    assertThat(exporter.getFinishedSpanItems()).hasSize(1);
    assertThat(exporter.getFinishedSpanItems().get(0).getAttributes().get(TracedRequest.CACHE_HIT))
        .isTrue();
  }

  @Test
  void aTraceOfManyCoreRequestsThatWouldPassTheSpanBoundIsDroppedWholeAndCounted() {
    Tracing t = tracing(1, -1);
    // Spans already waiting for the exporter: room for begin's three, not for 21.
    assertThat(t.queue(Tracing.MAX_QUEUED_SPANS - 8)).isTrue();
    TracedRequest r = t.begin("m", null, null, TracedRequest.Protocol.HTTP_OPENAI);
    assertThat(r).isNotNull();
    List<InferenceResponse> parts =
        java.util.Collections.nCopies(
            10, answer(RequestTiming.ofPass(300_000, 900_000, 1, 1, 1_500_000)));
    r.endHttp(
        TracedRequest.OPENAI_EMBEDDINGS_ROUTE, "m", "", 200, parts, System.nanoTime(), null, null);
    // Queued, its 21 spans would pass the bound; the SDK's queue would then drop some itself, and
    // those would never leave the count that keeps later traces out.
    assertThat(exporter.getFinishedSpanItems()).isEmpty();
    assertThat(t.dropped()).isEqualTo(1);
    assertThat(t.queuedSpans()).isEqualTo(Tracing.MAX_QUEUED_SPANS - 8);
  }

  @Test
  void settingsHaveTritonsShapesAndModelsOverrideAndReset() throws Exception {
    Tracing t = tracing(0, -1);
    TraceSettingsStore s = t.settings();
    assertThat(TraceSettingsStore.json(s.get(null)))
        .containsExactly(
            Map.entry("trace_level", List.of("TIMESTAMPS")),
            Map.entry("trace_rate", "0"),
            Map.entry("trace_count", "-1"),
            Map.entry("log_frequency", "0"),
            Map.entry("trace_file", ""),
            Map.entry("trace_mode", "opentelemetry"));
    assertThat(s.update(null, JSON.readTree("{\"trace_rate\":\"100\"}")).rate()).isEqualTo(100);
    // A model inherits what it does not set, and follows the server's later changes of it.
    TraceSettings m = s.update("m", JSON.readTree("{\"trace_count\":5}"));
    assertThat(m).isEqualTo(new TraceSettings(true, 100, 5));
    s.update(null, JSON.readTree("{\"trace_rate\":7}"));
    assertThat(s.get("m").rate()).isEqualTo(7);
    // null: the server's startup value (for a model: the server's); {} on a model: no overrides.
    assertThat(s.update(null, JSON.readTree("{\"trace_rate\":null}")).rate()).isZero();
    assertThat(s.update("m", JSON.readTree("{\"trace_count\":null}")).count()).isEqualTo(-1);
    s.update("m", JSON.readTree("{\"trace_level\":[\"OFF\"]}"));
    assertThat(s.update("m", JSON.readTree("{}")).timestamps()).isTrue();
    assertThat(
            s.update(
                    null,
                    JSON.readTree(
                        "{\"trace_mode\":\"opentelemetry\",\"trace_file\":\"\","
                            + "\"log_frequency\":\"0\"}"))
                .rate())
        .isZero();
  }

  @Test
  void badSettingsAre400sNamingTheSetting() {
    TraceSettingsStore s = tracing(0, -1).settings();
    Map<String, String> bad =
        Map.of(
            "{\"trace_rate\":\"often\"}", "trace_rate must be an integer",
            "{\"trace_rate\":-1}", "trace_rate must be >= 0",
            "{\"trace_count\":\"-2\"}", "trace_count must be >= -1",
            "{\"trace_level\":[\"TENSORS\"]}", "TENSORS is not supported",
            "{\"trace_level\":[\"OFF\",\"TIMESTAMPS\"]}", "cannot be both",
            "{\"trace_level\":\"LOUD\"}", "trace_level must be",
            "{\"trace_mode\":\"triton\"}", "trace_mode must be \"opentelemetry\"",
            "{\"trace_file\":\"/tmp/t.json\"}", "trace_file does not apply",
            "{\"log_frequency\":\"50\"}", "log_frequency does not apply",
            "{\"trace_speed\":1}", "unknown trace setting 'trace_speed'");
    bad.forEach(
        (body, message) ->
            assertThatThrownBy(() -> s.update(null, JSON.readTree(body)))
                .as(body)
                .isInstanceOfSatisfying(
                    InferenceException.class,
                    e ->
                        assertThat(e.code())
                            .isEqualTo(dev.fulcrum.core.error.ErrorCode.INVALID_ARGUMENT))
                .hasMessageContaining(message));
    assertThatThrownBy(() -> s.update(null, JSON.readTree("[1]")))
        .hasMessageContaining("JSON object");
    // Nothing bad was applied.
    assertThat(s.get(null)).isEqualTo(new TraceSettings(true, 0, -1));
  }

  @Test
  void theEndpointGetsTheTracesPathWhenItHasNone() {
    assertThat(Tracing.tracesUrl(URI.create("http://collector:4318")))
        .isEqualTo("http://collector:4318/v1/traces");
    assertThat(Tracing.tracesUrl(URI.create("http://collector:4318/")))
        .isEqualTo("http://collector:4318/v1/traces");
    assertThat(Tracing.tracesUrl(URI.create("https://c/otlp/v1/traces")))
        .isEqualTo("https://c/otlp/v1/traces");
    assertThatThrownBy(() -> Tracing.tracesUrl(URI.create("grpc://collector:4317")))
        .hasMessageContaining("--trace-otlp-endpoint");
  }
}
