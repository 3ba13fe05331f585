package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Where a stop signal goes: one that comes before the server gives its action is remembered (the
 * server then stops with 0 instead of starting), one after runs the action. No signal is sent: the
 * JVM's handler calls {@link TerminationSignals.Stop#signal} as these calls do.
 */
class TerminationSignalsTest {
  @Test
  void aSignalBeforeTheActionIsRememberedAndNotRun() {
    TerminationSignals.Stop stop = new TerminationSignals.Stop();
    AtomicInteger runs = new AtomicInteger();
    stop.signal();
    assertThat(stop.give(runs::incrementAndGet)).as("signalled before").isTrue();
    assertThat(runs).hasValue(0);
    stop.signal();
    assertThat(runs).as("a later signal runs the action").hasValue(1);
  }

  @Test
  void aSignalAfterTheActionRunsIt() {
    TerminationSignals.Stop stop = new TerminationSignals.Stop();
    AtomicInteger runs = new AtomicInteger();
    assertThat(stop.give(runs::incrementAndGet)).isFalse();
    stop.signal();
    stop.signal();
    assertThat(runs).hasValue(2);
  }
}
