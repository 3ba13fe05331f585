package dev.fulcrum.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LatencyRecorderTest {
  private static final long MS = 1_000_000;
  private final AtomicLong now = new AtomicLong(1_000 * MS);
  private final LatencyRecorder recorder = new LatencyRecorder(now::get);

  @Test
  void openLoopLatencyCountsFromTheScheduleServiceTimeFromTheSend() {
    long t0 = now.get();
    // Due at t0, sent 40 ms late (the client was blocked), answered 2 ms after the send.
    recorder.sent(t0, t0 + 40 * MS);
    recorder.completed(t0, t0 + 40 * MS, t0 + 42 * MS, Outcome.OK);
    // On time, 2 ms.
    recorder.sent(t0 + 10 * MS, t0 + 10 * MS);
    recorder.completed(t0 + 10 * MS, t0 + 10 * MS, t0 + 12 * MS, Outcome.OK);
    now.addAndGet(1000 * MS);

    WindowStats w = recorder.cut();

    assertThat(w.nanos()).isEqualTo(1000 * MS);
    assertThat(w.latency().getMaxValue() / (double) MS).isCloseTo(42, within(0.1));
    assertThat(w.latency().getMinValue() / (double) MS).isCloseTo(2, within(0.01));
    assertThat(w.service().getMaxValue() / (double) MS).isCloseTo(2, within(0.01));
    assertThat(w.sends()).isEqualTo(2);
    assertThat(w.lateSends()).isEqualTo(1);
    assertThat(w.maxLagNanos()).isEqualTo(40 * MS);
    assertThat(w.throughput()).isEqualTo(2.0);
  }

  @Test
  void rejectionsHaveTheirOwnHistogramAndOtherErrorsNone() {
    long t0 = now.get();
    recorder.completed(t0, t0, t0 + 3 * MS, Outcome.OK);
    recorder.completed(t0, t0, t0 + 1 * MS, Outcome.REJECTED);
    recorder.completed(t0, t0, t0 + 4 * MS, Outcome.REJECTED);
    recorder.completed(t0, t0, t0 + 9 * MS, Outcome.TIMED_OUT);
    WindowStats w = WindowStats.merge(java.util.List.of(recorder.cut(), recorder.cut()));

    assertThat(w.latency().getTotalCount()).isEqualTo(1);
    assertThat(w.rejected().getTotalCount()).isEqualTo(2);
    assertThat(w.rejected().getMaxValue() / (double) MS).isCloseTo(4, within(0.01));
    assertThat(w.count(Outcome.REJECTED)).isEqualTo(2);
    assertThat(w.count(Outcome.TIMED_OUT)).isEqualTo(1);
  }

  @Test
  void closedLoopPassesTheSendAsTheScheduleSoBothAgree() {
    long t0 = now.get();
    recorder.sent(t0, t0);
    recorder.completed(t0, t0, t0 + 5 * MS, Outcome.OK);
    WindowStats w = recorder.cut();
    assertThat(w.latency().getMaxValue()).isEqualTo(w.service().getMaxValue());
    assertThat(w.lateSends()).isZero();
  }

  @Test
  void errorsAreCountedByKindButKeptOutOfTheHistograms() {
    long t0 = now.get();
    recorder.completed(t0, t0, t0 + MS, Outcome.REJECTED);
    recorder.completed(t0, t0, t0 + MS, Outcome.TIMED_OUT);
    recorder.completed(t0, t0, t0 + MS, Outcome.OTHER);
    recorder.completed(t0, t0, t0 + 9 * MS, Outcome.OK);
    WindowStats w = recorder.cut();
    assertThat(w.ok()).isEqualTo(1);
    assertThat(w.errors()).isEqualTo(3);
    assertThat(w.count(Outcome.REJECTED)).isEqualTo(1);
    assertThat(w.count(Outcome.UNAVAILABLE)).isZero();
    assertThat(w.latency().getTotalCount()).isEqualTo(1);
  }

  @Test
  void eachCutStartsAFreshWindow() {
    long t0 = now.get();
    recorder.sent(t0, t0 + 5 * MS);
    recorder.completed(t0, t0, t0 + MS, Outcome.OK);
    now.addAndGet(100 * MS);
    recorder.cut();
    now.addAndGet(250 * MS);
    WindowStats second = recorder.cut();
    assertThat(second.nanos()).isEqualTo(250 * MS);
    assertThat(second.ok()).isZero();
    assertThat(second.latency().getTotalCount()).isZero();
    assertThat(second.maxLagNanos()).isZero();
    assertThat(second.sends()).isZero();
  }

  @Test
  void mergeAddsCountsAndHistograms() {
    long t0 = now.get();
    recorder.completed(t0, t0, t0 + MS, Outcome.OK);
    now.addAndGet(1000 * MS);
    WindowStats a = recorder.cut();
    recorder.completed(t0, t0, t0 + 3 * MS, Outcome.OK);
    recorder.completed(t0, t0, t0 + 3 * MS, Outcome.REJECTED);
    now.addAndGet(1000 * MS);
    WindowStats b = recorder.cut();
    WindowStats m = WindowStats.merge(java.util.List.of(a, b));
    assertThat(m.ok()).isEqualTo(2);
    assertThat(m.errors()).isEqualTo(1);
    assertThat(m.nanos()).isEqualTo(2000 * MS);
    assertThat(m.throughput()).isEqualTo(1.0);
    assertThat(m.latency().getTotalCount()).isEqualTo(2);
  }
}
