package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

class RateLimitedLogTest {
  private final AtomicLong now = new AtomicLong(1_000);
  private final RateLimitedLog log =
      new RateLimitedLog(
          LoggerFactory.getLogger(RateLimitedLogTest.class), Duration.ofSeconds(10), now::get);

  @Test
  void oneLinePerKindPerIntervalThenTheSuppressedCount() {
    assertThat(log.log(Level.WARN, "a", "first a", null)).isTrue();
    assertThat(log.log(Level.WARN, "a", "again", null)).isFalse();
    assertThat(log.log(Level.WARN, "a", "again", new IllegalStateException())).isFalse();
    assertThat(log.log(Level.WARN, "b", "first b", null)).as("another kind").isTrue();
    now.addAndGet(Duration.ofSeconds(9).toNanos());
    assertThat(log.log(Level.WARN, "a", "still suppressed", null)).isFalse();
    now.addAndGet(Duration.ofSeconds(1).toNanos());
    assertThat(log.log(Level.WARN, "a", "next a", null)).isTrue();
    assertThat(RateLimitedLog.line("next a", 3, Duration.ofSeconds(10).toNanos()))
        .isEqualTo("next a (3 more like it suppressed; at most one line per 10 s)");
    assertThat(RateLimitedLog.line("x", 0, 1)).isEqualTo("x");
  }

  @Test
  void theNumberOfKindsIsBounded() {
    for (int i = 0; i < RateLimitedLog.MAX_KINDS + 50; i++) {
      log.log(Level.WARN, "kind-" + i, "line", null);
    }
    // kinds past the bound share one window: only the first of them is written
    assertThat(log.log(Level.WARN, "yet another", "line", null)).isFalse();
  }

  @Test
  void aDisabledLevelIsNeitherWrittenNorCounted() {
    assertThat(log.log(Level.TRACE, "t", "trace", null)).isFalse();
  }
}
