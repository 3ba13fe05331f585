package dev.fulcrum.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.server.SlowRequestLog;
import dev.fulcrum.server.tracing.TraceSettings;
import dev.fulcrum.server.tracing.TracedRequest;
import dev.fulcrum.server.tracing.Tracing;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import org.junit.jupiter.api.Test;

/**
 * Tracing's and the slow-request log's counters on /metrics: present only while each is on, with
 * what each has done since the start.
 */
class ServerMetricsObservabilityTest {

  @Test
  void neitherOnMeansNoFamilies() {
    String text = new ServerMetrics(false).scrape();
    assertThat(text)
        .doesNotContain("fulcrum_traces_total")
        .doesNotContain("fulcrum_trace_spans_total")
        .doesNotContain("fulcrum_slow_requests_total");
  }

  @Test
  void tracesSpansAndSlowRequestLinesAreCountedByOutcome() {
    ServerMetrics metrics = new ServerMetrics(false);
    try (Tracing tracing =
            Tracing.direct(InMemorySpanExporter.create(), new TraceSettings(true, 1, -1));
        SlowRequestLog log =
            new SlowRequestLog(
                new SlowRequestLog.Settings(Long.MAX_VALUE, SlowRequestLog.Format.LOGFMT, 1))) {
      metrics.bindTracing(tracing);
      metrics.bindSlowRequests(log);
      // One trace of one span (no timing: no queue or compute child), exported as it ends.
      tracing
          .begin("m", null, null, TracedRequest.Protocol.HTTP_JSON)
          .endHttp("m", "", false, 404, null, System.nanoTime(), "NOT_FOUND", "no model");
      String text = metrics.scrape();
      assertThat(text)
          .contains("# TYPE fulcrum_traces_total counter\n")
          .contains("fulcrum_traces_total{outcome=\"queued\"} 1\n")
          .contains("fulcrum_traces_total{outcome=\"dropped\"} 0\n")
          .contains("# TYPE fulcrum_trace_spans_total counter\n")
          .contains("fulcrum_trace_spans_total{outcome=\"exported\"} 1\n")
          .contains("fulcrum_trace_spans_total{outcome=\"failed\"} 0\n")
          .contains("# TYPE fulcrum_slow_requests_total counter\n")
          .contains("fulcrum_slow_requests_total{outcome=\"logged\"} 0\n")
          .contains("fulcrum_slow_requests_total{outcome=\"suppressed\"} 0\n");
    }
  }
}
