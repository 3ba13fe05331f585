package dev.fulcrum.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.repository.LifecycleEvent;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The start-up gauge, and JVM metrics registered after construction (as fulcrum serve does). */
class ServerMetricsStartupTest {

  @Test
  void startupSecondsIsNanUntilReadyThenTheRecordedValue() {
    ServerMetrics metrics = new ServerMetrics(false);
    assertThat(metrics.scrape()).contains("fulcrum_startup_seconds NaN");

    metrics.startupDone(1.25);

    assertThat(metrics.scrape()).contains("fulcrum_startup_seconds 1.25");
  }

  @Test
  void jvmMetricsCanBeRegisteredAfterConstruction() {
    ServerMetrics metrics = new ServerMetrics(false);
    assertThat(metrics.scrape()).doesNotContain("jvm_memory_used_bytes");

    metrics.registerJvmMetrics();

    assertThat(metrics.scrape()).contains("jvm_memory_used_bytes");
  }

  @Test
  void deferredMetricsKeepWhatCameBeforeActivationAndCountAfterIt() {
    ServerMetrics metrics = ServerMetrics.deferred();
    SchedulerObserver o = metrics.create("m", "1");
    metrics.onEvent(new LifecycleEvent.Loaded("m", 1, Duration.ofMillis(250), Duration.ZERO));
    o.requestDone(done(2_000_000)); // the first answer, before the registry exists
    o.batchDone(new SchedulerObserver.BatchDone(1, 1, 0, 0, 0, 0));
    o.rejected(new SchedulerObserver.Rejected(SchedulerObserver.RejectReason.QUEUE_FULL, 1, 0, 0));
    metrics.startupDone(0.5);

    metrics.activate();
    o.requestDone(done(3_000_000)); // after it
    SchedulerObserver late = metrics.create("m", "2"); // created after activation
    late.requestDone(done(1_000_000));

    String text = metrics.scrape();
    assertThat(text)
        .contains("fulcrum_request_duration_seconds_count{model=\"m\",version=\"1\"} 2")
        .contains("fulcrum_request_duration_seconds_count{model=\"m\",version=\"2\"} 1")
        .contains("fulcrum_batch_size_count{model=\"m\",version=\"1\"} 1")
        .contains(
            "fulcrum_rejected_requests_total{model=\"m\",reason=\"queue_full\",version=\"1\"} 1")
        .contains("fulcrum_model_load_duration_seconds{model=\"m\",version=\"1\"} 0.25")
        .contains("fulcrum_startup_seconds 0.5");
  }

  /**
   * A version's four histograms appear at its first pass, not at its load: 300 idle demo models had
   * exported 21,000 zero buckets per scrape (1.5 of 5.5 MB). Its counters are there from the load
   * (a counter that appeared at its first increment would lose that increment to rate()), and the
   * histograms stay once they appeared.
   */
  @Test
  void aVersionsHistogramsAppearAtItsFirstPassAndStay() {
    ServerMetrics metrics = new ServerMetrics(false);
    SchedulerObserver o = metrics.create("m", "1");
    assertThat(metrics.scrape())
        .doesNotContain("_bucket{model=\"m\"")
        .doesNotContain("_count{model=\"m\"")
        .contains(
            "fulcrum_rejected_requests_total{model=\"m\",reason=\"queue_full\",version=\"1\"} 0");
    o.rejected(new SchedulerObserver.Rejected(SchedulerObserver.RejectReason.QUEUE_FULL, 1, 0, 0));
    assertThat(metrics.scrape()).doesNotContain("_count{model=\"m\"");

    o.batchDone(new SchedulerObserver.BatchDone(1, 1, 0, 0, 0, 0));
    assertThat(metrics.scrape())
        .contains("fulcrum_batch_size_count{model=\"m\",version=\"1\"} 1")
        .contains("fulcrum_request_duration_seconds_count{model=\"m\",version=\"1\"} 0")
        .contains("fulcrum_queue_duration_seconds_count{model=\"m\",version=\"1\"} 0")
        .contains("fulcrum_compute_duration_seconds_count{model=\"m\",version=\"1\"} 0");
    o.requestDone(done(2_000_000));
    assertThat(metrics.scrape())
        .contains("fulcrum_request_duration_seconds_count{model=\"m\",version=\"1\"} 1")
        .contains("fulcrum_batch_size_count{model=\"m\",version=\"1\"} 1");
  }

  @Test
  void aScrapeActivatesDeferredMetrics() {
    ServerMetrics metrics = ServerMetrics.deferred();
    SchedulerObserver o = metrics.create("m", "1");
    o.requestDone(done(2_000_000));
    assertThat(metrics.scrape())
        .contains("fulcrum_request_duration_seconds_count{model=\"m\",version=\"1\"} 1")
        .contains("fulcrum_startup_seconds NaN");
  }

  @Test
  void withoutHistogramsDeferredMetricsStillCountRejectionsAndTimeouts() {
    ServerMetrics metrics = ServerMetrics.deferred(false, true);
    SchedulerObserver o = metrics.create("m", "1");
    o.requestDone(done(2_000_000)); // before activation
    o.rejected(new SchedulerObserver.Rejected(SchedulerObserver.RejectReason.QUEUE_FULL, 1, 0, 0));

    metrics.activate();
    o.batchDone(new SchedulerObserver.BatchDone(1, 1, 0, 0, 0, 0));
    o.requestDone(
        new SchedulerObserver.RequestDone(
            SchedulerObserver.Outcome.TIMED_OUT, 1, 0, 5_000_000, 0, 0, 0, 5_000_000, 0));

    assertThat(metrics.scrape())
        .doesNotContain("fulcrum_request_duration_seconds")
        .doesNotContain("fulcrum_queue_duration_seconds")
        .doesNotContain("fulcrum_compute_duration_seconds")
        .doesNotContain("fulcrum_batch_size")
        .contains(
            "fulcrum_rejected_requests_total{model=\"m\",reason=\"queue_full\",version=\"1\"} 1")
        .contains(
            "fulcrum_rejected_requests_total{model=\"m\",reason=\"timeout\",version=\"1\"} 1");
  }

  private static SchedulerObserver.RequestDone done(long totalNanos) {
    return new SchedulerObserver.RequestDone(
        SchedulerObserver.Outcome.SUCCESS, 1, 1, 1000, 0, 1000, 0, totalNanos, 0);
  }
}
