package dev.fulcrum.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

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
}
