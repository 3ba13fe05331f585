package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The connection cap, and its eviction of connections that never sent a request head. */
class ConnectionLimitTest {
  private static final Duration GRACE = Duration.ofMillis(1);

  private static void pastTheGrace() throws InterruptedException {
    Thread.sleep(20); // only ever longer than the 1 ms grace, however slow the machine
  }

  @Test
  void aPlainCapRefusesTheNextConnection() throws Exception {
    ConnectionLimit limit = new ConnectionLimit(2);
    EmbeddedChannel a = new EmbeddedChannel();
    EmbeddedChannel b = new EmbeddedChannel();
    assertThat(limit.admit(a)).isTrue();
    assertThat(limit.admit(b)).isTrue();
    pastTheGrace();
    assertThat(limit.admit(new EmbeddedChannel())).isFalse();
    assertThat(a.isOpen()).isTrue();
    assertThat(limit.open()).isEqualTo(2);
    a.close();
    assertThat(limit.open()).isEqualTo(1);
  }

  @Test
  void aFullPortClosesItsOldestSlowStartForANewConnection() throws Exception {
    ConnectionLimit limit = ConnectionLimit.evictingSlowStarts(2, GRACE);
    EmbeddedChannel oldest = new EmbeddedChannel();
    EmbeddedChannel next = new EmbeddedChannel();
    limit.admit(oldest);
    limit.admit(next);
    pastTheGrace();
    EmbeddedChannel client = new EmbeddedChannel();
    assertThat(limit.admit(client)).isTrue();
    assertThat(oldest.isOpen()).isFalse();
    assertThat(next.isOpen()).isTrue();
    assertThat(limit.open()).isEqualTo(2);
  }

  @Test
  void aStartedConnectionIsNeverEvicted() throws Exception {
    ConnectionLimit limit = ConnectionLimit.evictingSlowStarts(2, GRACE);
    EmbeddedChannel a = new EmbeddedChannel();
    EmbeddedChannel b = new EmbeddedChannel();
    limit.admit(a);
    limit.admit(b);
    ConnectionLimit.started(a);
    ConnectionLimit.started(b);
    pastTheGrace();
    assertThat(limit.admit(new EmbeddedChannel())).isFalse();
    assertThat(a.isOpen()).isTrue();
    assertThat(b.isOpen()).isTrue();
  }

  @Test
  void aSlowStartWithinItsGraceIsKept() {
    ConnectionLimit limit = ConnectionLimit.evictingSlowStarts(1, Duration.ofHours(1));
    EmbeddedChannel a = new EmbeddedChannel();
    limit.admit(a);
    assertThat(limit.admit(new EmbeddedChannel())).isFalse();
    assertThat(a.isOpen()).isTrue();
  }

  @Test
  void closedAndStartedConnectionsDoNotPileUp() throws Exception {
    ConnectionLimit limit = ConnectionLimit.evictingSlowStarts(1_000_000, GRACE);
    for (int i = 0; i < 10_000; i++) {
      EmbeddedChannel c = new EmbeddedChannel();
      limit.admit(c);
      if (i % 2 == 0) {
        ConnectionLimit.started(c);
      } else {
        c.close();
      }
    }
    assertThat(limit.queued()).isLessThan(10);
  }
}
