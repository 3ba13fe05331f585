package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SilentConnectionsTest {
  /**
   * A connection that closes or speaks leaves the sweep at once, not when its slot comes up: a
   * flood of connect-and-close clients had the wheel hold every closed channel for up to the header
   * timeout. Entries of one slot leave in any order (each swapped with the slot's last), and the
   * one still silent is reset at its deadline. (One channel stands for five connections of one
   * loop: a wheel is per event loop, and each EmbeddedChannel has a loop of its own.)
   */
  @Test
  void connectionsThatCloseOrSpeakLeaveAtOnceAndASilentOneIsResetAtItsDeadline() throws Exception {
    SilentConnections silent = new SilentConnections(Duration.ofMillis(50));
    EmbeddedChannel ch = new EmbeddedChannel();
    long start = System.nanoTime();
    List<SilentConnections.Silent> slot = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      slot.add(silent.watch(ch, start)); // one deadline: one slot
    }
    assertThat(silent.watched(ch.eventLoop())).isEqualTo(5);
    slot.get(0).closed(); // the slot's last takes its place
    slot.get(4).spoke();
    slot.get(1).closed();
    slot.get(1).closed(); // twice: nothing more
    slot.get(3).spoke();
    assertThat(silent.watched(ch.eventLoop())).isEqualTo(1);

    Thread.sleep(150);
    ch.runScheduledPendingTasks();
    ch.runPendingTasks();
    assertThat(ch.isOpen()).as("the one still silent is reset").isFalse();
    assertThat(silent.watched(ch.eventLoop())).isZero();
    slot.get(2).closed(); // its close after the reset: already out
    assertThat(silent.watched(ch.eventLoop())).isZero();
    ch.finishAndReleaseAll();
  }
}
