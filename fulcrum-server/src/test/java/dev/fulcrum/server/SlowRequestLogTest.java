package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.server.SlowRequestLog.Format;
import dev.fulcrum.server.SlowRequestLog.Protocol;
import dev.fulcrum.server.SlowRequestLog.Settings;
import dev.fulcrum.server.SlowRequestLog.SlowRequest;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The slow-request log's threshold, lines, rate limit and summary, on a test clock. */
class SlowRequestLogTest {
  private static final long MS = 1_000_000L;
  private static final String TRACEPARENT =
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

  private static final Clock WALL =
      Clock.fixed(Instant.parse("2026-12-07T03:00:00Z"), ZoneOffset.UTC);

  private final AtomicLong clock = new AtomicLong(1_000_000 * MS);
  private final List<String> lines = new CopyOnWriteArrayList<>();

  private SlowRequestLog log(long thresholdMs, Format format, int perSecond) {
    return new SlowRequestLog(
        new Settings(thresholdMs * MS, format, perSecond), lines::add, clock::get, WALL, false);
  }

  private static SlowRequest request(long totalMs, RequestTiming timing) {
    return new SlowRequest(
        Protocol.REST_JSON,
        "fraud_classifier",
        "1",
        "200",
        totalMs * MS,
        100 * MS,
        timing,
        new InetSocketAddress("127.0.0.1", 53422),
        null,
        "req-7",
        TraceParent.parse(TRACEPARENT, null),
        null);
  }

  @Test
  void onlyRequestsOverTheThresholdOrRefusedForLoadAreWanted() {
    SlowRequestLog log = log(100, Format.LOGFMT, 100);
    assertThat(log.wants(100 * MS, 0, null)).as("at the threshold").isFalse();
    assertThat(log.wants(100 * MS + 1, 0, null)).as("over it").isTrue();
    assertThat(log.wants(MS, 0, InferenceException.exhausted("queue full")))
        .as("a quick 429")
        .isTrue();
    assertThat(
            log.wants(
                MS,
                0,
                new CompletionException(
                    new InferenceException(ErrorCode.DEADLINE_EXCEEDED, "timed out in queue"))))
        .as("a queue timeout, wrapped")
        .isTrue();
    assertThat(log.wants(MS, 0, InferenceException.invalid("bad shape")))
        .as("a quick client mistake")
        .isFalse();
  }

  @Test
  void aModelsObjectiveIsItsThresholdAndSloModeJudgesOnlyModelsWithOne() {
    SlowRequestLog log = log(100, Format.LOGFMT, 100);
    assertThat(log.wants(20 * MS, 10 * MS, null)).as("over its 10 ms objective").isTrue();
    assertThat(log.wants(200 * MS, 500 * MS, null)).as("within its 500 ms objective").isFalse();
    SlowRequestLog slo =
        new SlowRequestLog(
            new Settings(Settings.thresholdNanos("slo"), Format.LOGFMT, 100),
            lines::add,
            clock::get,
            WALL,
            false);
    assertThat(slo.wants(3_600_000 * MS, 0, null)).as("no objective, never slow").isFalse();
    assertThat(slo.wants(11 * MS, 10 * MS, null)).isTrue();
  }

  @Test
  void aLineHasEveryField() {
    RequestTiming timing = new RequestTiming(120_500, 30_250, 0, 8, 2, 151_000, false, Double.NaN);
    String line = SlowRequestLog.format(request(153, timing), Format.LOGFMT, WALL.instant());
    assertThat(line)
        .isEqualTo(
            "time=2026-12-07T03:00:00Z event=slow_request reason=slow model=fraud_classifier"
                + " version=1 protocol=rest-json status=200 rows=2 total_ms=153.000"
                + " queue_ms=120.500 compute_ms=30.250 transport_ms=2.000 batch_rows=8"
                + " cache_hit=false threshold_ms=100.000 client=127.0.0.1:53422 id=req-7"
                + " trace_id=4bf92f3577b34da6a3ce929d0e0e4736");
  }

  @Test
  void anEnsembleRequestsLineHasEachStepsSplit() throws Exception {
    RequestTiming scale = RequestTiming.ofPass(110 * 1000, 300 * 1000, 6, 2, 430 * 1000);
    RequestTiming classify =
        RequestTiming.ofPass(80 * 1000, 420 * 1000, 2, 2, 510 * 1000).withStepsNanos(40 * 1000);
    RequestTiming ensemble =
        RequestTiming.ofEnsemble(
            2,
            1_210 * 1000,
            List.of(
                new RequestTiming.EnsembleStep(0, "scale", "1", 14, scale),
                new RequestTiming.EnsembleStep(1, "classify", "2", 460, classify)));
    String line = SlowRequestLog.format(request(2, ensemble), Format.LOGFMT, WALL.instant());
    assertThat(line)
        .contains(
            " queue_ms=0.190 compute_ms=0.720 transport_ms=0.790 batch_rows=0 cache_hit=false"
                + " step.0.model=scale step.0.version=1 step.0.start_ms=0.014 step.0.queue_ms=0.110"
                + " step.0.compute_ms=0.300 step.0.total_ms=0.430 step.0.batch_rows=6"
                + " step.0.cache_hit=false step.1.model=classify step.1.version=2"
                + " step.1.start_ms=0.460 step.1.queue_ms=0.080 step.1.compute_ms=0.420"
                + " step.1.steps_ms=0.040 step.1.total_ms=0.510 step.1.batch_rows=2"
                + " step.1.cache_hit=false threshold_ms=");
    JsonNode json =
        new ObjectMapper()
            .readTree(SlowRequestLog.format(request(2, ensemble), Format.JSON, WALL.instant()));
    assertThat(json.get("step.1.model").asText()).isEqualTo("classify");
    assertThat(json.get("step.1.compute_ms").decimalValue()).isEqualByComparingTo("0.420");

    // a nested ensemble's steps are under its step's
    RequestTiming outer =
        RequestTiming.ofEnsemble(
            2,
            1_500 * 1000,
            List.of(new RequestTiming.EnsembleStep(0, "scale_classify", "1", 5, ensemble)));
    assertThat(SlowRequestLog.format(request(2, outer), Format.LOGFMT, WALL.instant()))
        .contains(" step.0.model=scale_classify ")
        .contains(" step.0.step.1.model=classify ")
        .contains(" step.0.step.1.compute_ms=0.420 ");
  }

  @Test
  void aJsonLineParsesWithTheSameFields() throws Exception {
    RequestTiming timing = new RequestTiming(120_500, 30_250, 900, 8, 2, 151_000, true, 0.5);
    SlowRequest r =
        new SlowRequest(
            Protocol.GRPC,
            "all_minilm_l6_v2",
            "",
            "RESOURCE_EXHAUSTED",
            3 * MS,
            100 * MS,
            timing,
            null,
            null,
            "an \"id\"\nwith a line end",
            null,
            InferenceException.exhausted("the queue is full"));
    JsonNode j = new ObjectMapper().readTree(SlowRequestLog.format(r, Format.JSON, WALL.instant()));
    assertThat(j.get("time").asText()).isEqualTo("2026-12-07T03:00:00Z");
    assertThat(j.get("reason").asText()).isEqualTo("refused");
    assertThat(j.get("version").asText()).isEqualTo("default");
    assertThat(j.get("protocol").asText()).isEqualTo("grpc");
    assertThat(j.get("status").asText()).isEqualTo("RESOURCE_EXHAUSTED");
    assertThat(j.get("total_ms").asDouble()).isEqualTo(3.0);
    assertThat(j.get("steps_ms").asDouble()).isEqualTo(0.9);
    assertThat(j.get("cache_hit").asBoolean()).isTrue();
    assertThat(j.get("id").asText()).isEqualTo("an \"id\"\\u000awith a line end");
    assertThat(j.get("error").asText()).isEqualTo("the queue is full");
    assertThat(j.has("client")).isFalse();
    assertThat(j.has("forwarded_for")).isFalse();
    assertThat(j.has("trace_id")).isFalse();
  }

  @Test
  void logfmtQuotesClientTextAndCannotBeForgedIntoTwoLines() {
    SlowRequest r =
        new SlowRequest(
            Protocol.REST_BINARY,
            "m",
            "2",
            "504",
            1 * MS,
            100 * MS,
            null,
            null,
            "203.0.113.7, 10.0.0.2\nevent=slow_request",
            "a b=\"c\"\nevent=slow_request",
            null,
            new InferenceException(ErrorCode.DEADLINE_EXCEEDED, "waited 5 ms in the queue"));
    String line = SlowRequestLog.format(r, Format.LOGFMT, WALL.instant());
    assertThat(line).doesNotContain("\n");
    assertThat(line)
        .contains("reason=refused")
        .contains("protocol=rest-binary status=504 total_ms=1.000")
        .contains("id=\"a b=\\\"c\\\"\\\\u000aevent=slow_request\"")
        .contains("error=\"waited 5 ms in the queue\"")
        // Behind a proxy: what it says the client was, quoted as client text, beside the address.
        .contains("forwarded_for=\"203.0.113.7, 10.0.0.2\\\\u000aevent=slow_request\"")
        .doesNotContain("queue_ms"); // no timing: refused before the core answered
  }

  @Test
  void atMostKLinesASecondThenOneSummaryLine() {
    SlowRequestLog log = log(10, Format.LOGFMT, 3);
    RequestTiming timing = RequestTiming.ofPass(0, 20 * MS, 1, 1, 20 * MS);
    for (int i = 0; i < 10; i++) {
      if (log.wants(50 * MS, 0, null)) {
        log.write(request(50, timing));
      }
    }
    log.drain(false);
    assertThat(lines).hasSize(3).allMatch(l -> l.contains(" event=slow_request "));
    clock.addAndGet(1_000 * MS);
    log.drain(false);
    assertThat(lines).hasSize(4);
    assertThat(lines.get(3))
        .isEqualTo(
            "time=2026-12-07T03:00:00Z event=slow_requests_suppressed count=7 max_lines_per_sec=3"
                + " message=\"7 more slow requests suppressed (at most 3 lines a second)\"");
    // A new second: three more lines.
    for (int i = 0; i < 4; i++) {
      if (log.wants(50 * MS, 0, null)) {
        log.write(request(50, timing));
      }
    }
    log.close();
    assertThat(lines).hasSize(8);
    assertThat(lines.get(7)).contains(" event=slow_requests_suppressed count=1 ");
    // What /metrics counts (fulcrum_slow_requests_total): since the start, not reset by a summary.
    assertThat(log.logged()).isEqualTo(6);
    assertThat(log.suppressed()).isEqualTo(8);
  }

  @Test
  void nothingIsSummedUpWhenNothingWasLeftOut() {
    SlowRequestLog log = log(10, Format.JSON, 3);
    log.drain(true);
    clock.addAndGet(5_000 * MS);
    log.drain(false);
    assertThat(lines).isEmpty();
  }

  @Test
  void aFullQueueCountsTheLineInsteadOfBlocking() {
    // The writer is stalled (no thread drains): three seconds' lines, one second's queue.
    SlowRequestLog log = log(0, Format.LOGFMT, 100);
    RequestTiming timing = RequestTiming.ofPass(0, MS, 1, 1, MS);
    for (int second = 0; second < 3; second++) {
      for (int i = 0; i < 100; i++) {
        assertThat(log.wants(2 * MS, 0, null)).isTrue();
        log.write(request(2, timing));
      }
      clock.addAndGet(1_000 * MS);
    }
    log.close();
    long written = lines.stream().filter(l -> l.contains(" event=slow_request ")).count();
    assertThat(written).isEqualTo(100);
    assertThat(lines.get(lines.size() - 1)).contains(" event=slow_requests_suppressed count=200 ");
    assertThat(log.logged()).isEqualTo(100);
    assertThat(log.suppressed()).isEqualTo(200);
  }

  @Test
  void theWriterThreadWritesTheLinesAndStopsOnClose() throws Exception {
    SlowRequestLog log =
        new SlowRequestLog(
            new Settings(10 * MS, Format.LOGFMT, 100), lines::add, System::nanoTime, WALL, true);
    assertThat(log.wants(20 * MS, 0, null)).isTrue();
    log.write(request(20, RequestTiming.ofPass(0, MS, 1, 1, MS)));
    Await.until("the line written", () -> !lines.isEmpty());
    log.close();
    assertThat(lines).hasSize(1);
    assertThat(Thread.getAllStackTraces().keySet())
        .noneMatch(t -> t.getName().equals(SlowRequestLog.THREAD_NAME) && t.isAlive());
  }

  @Test
  void optionValuesAreCheckedWithMessagesNamingTheOption() {
    assertThat(Settings.thresholdNanos("250")).isEqualTo(250 * MS);
    assertThat(Settings.thresholdNanos("0.5")).isEqualTo(MS / 2);
    assertThat(Settings.thresholdNanos(" SLO ")).isEqualTo(Long.MAX_VALUE);
    assertThatThrownBy(() -> Settings.thresholdNanos("fast"))
        .hasMessageContaining("--log-slow-requests-ms");
    assertThatThrownBy(() -> Settings.thresholdNanos("-1"))
        .hasMessageContaining("--log-slow-requests-ms");
    assertThatThrownBy(() -> Format.parse("xml")).hasMessageContaining("--log-slow-format");
    assertThatThrownBy(() -> new Settings(MS, Format.LOGFMT, 0))
        .hasMessageContaining("--log-slow-max-lines-per-sec");
  }
}
