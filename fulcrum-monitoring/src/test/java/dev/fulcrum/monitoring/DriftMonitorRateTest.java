package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The monitor's rate limit ({@code fulcrum serve --monitor-max-rate}): below it every pass is
 * compared; above it a share is shed and counted, and every offered row is accounted for.
 */
class DriftMonitorRateTest {

  private static Completed request(int i) {
    String id = Integer.toString(i);
    return new Completed(
        null,
        new InferenceRequest("m", "1", id, Map.of(), List.of(), List.of()),
        new InferenceResponse("m", "1", id, Map.of(), List.of()),
        i,
        0);
  }

  @Test
  void theShareToKeepIsTheLimitOverTheOfferedRate() {
    long second = 1_000_000_000L;
    assertThat(DriftMonitor.keep(50_000, second, DriftMonitor.NO_RATE_LIMIT)).isEqualTo(1);
    assertThat(DriftMonitor.keep(2_000, second, 8_000)).isEqualTo(1);
    assertThat(DriftMonitor.keep(8_000, second, 8_000)).isEqualTo(1);
    assertThat(DriftMonitor.keep(32_000, second, 8_000)).isEqualTo(0.25);
    assertThat(DriftMonitor.keep(8_000, second / 4, 8_000)).isEqualTo(0.25);
    assertThat(DriftMonitor.keep(0, 0, 8_000)).isEqualTo(1);
  }

  @Test
  void aNegativeLimitIsRefused() {
    assertThatThrownBy(() -> new DriftMonitor(16, null, List.of(), true, -1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(">= 0");
  }

  @Test
  void withoutALimitNothingIsShed() throws Exception {
    AtomicLong processed = new AtomicLong();
    try (DriftMonitor monitor =
        new DriftMonitor(
            1 << 16,
            null,
            List.of(),
            true,
            DriftMonitor.NO_RATE_LIMIT,
            o -> processed.incrementAndGet())) {
      for (int i = 0; i < 200_000; i++) {
        if (monitor.admit(1)) {
          monitor.offer(request(i));
        }
      }
      assertThat(monitor.awaitIdle(Duration.ofSeconds(30))).isTrue();
      assertThat(monitor.shed()).isZero();
      assertThat(processed.get() + monitor.dropped()).isEqualTo(200_000);
    }
  }

  @Test
  void overTheLimitPassesAreShedAndCountedAndBelowItNoneAre() throws Exception {
    AtomicLong processed = new AtomicLong();
    try (DriftMonitor monitor =
        new DriftMonitor(1 << 16, null, List.of(), true, 1_000, o -> processed.incrementAndGet())) {
      // Far over 1,000 rows a second until the monitor has lowered the share it keeps.
      long offered = 0;
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while ((monitor.keep() == 1 || monitor.shed() == 0) && System.nanoTime() < deadline) {
        for (int i = 0; i < 1_000; i++) {
          offered++;
          if (monitor.admit(1)) {
            monitor.offer(request(i));
          }
        }
        Thread.sleep(1);
      }
      assertThat(monitor.keep()).isLessThan(1);
      assertThat(monitor.shed()).isPositive();
      assertThat(monitor.awaitIdle(Duration.ofSeconds(30))).isTrue();
      // Every offered row was compared, shed or dropped.
      assertThat(processed.get() + monitor.shed() + monitor.dropped()).isEqualTo(offered);
      // Nothing offered: the next windows see no rows and keep every pass again.
      deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (monitor.keep() < 1 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(monitor.keep()).isEqualTo(1);
      long shedBefore = monitor.shed();
      for (int i = 0; i < 100; i++) {
        assertThat(monitor.admit(1)).isTrue();
      }
      assertThat(monitor.shed()).isEqualTo(shedBefore);
    }
  }
}
