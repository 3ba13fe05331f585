package dev.fulcrum.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class ArrivalScheduleTest {

  @Test
  void constantRateSpacesSendsEvenlyFromZero() {
    ArrivalSchedule s = new ArrivalSchedule(1000, ArrivalSchedule.Distribution.CONSTANT, 1);
    assertThat(s.nextOffsetNanos()).isZero();
    assertThat(s.nextOffsetNanos()).isEqualTo(1_000_000);
    assertThat(s.nextOffsetNanos()).isEqualTo(2_000_000);
  }

  @Test
  void constantRateDoesNotDriftOverManySends() {
    ArrivalSchedule s = new ArrivalSchedule(3, ArrivalSchedule.Distribution.CONSTANT, 1);
    long last = 0;
    for (int i = 0; i <= 3000; i++) {
      last = s.nextOffsetNanos();
    }
    assertThat(last).isEqualTo(1_000_000_000_000L);
  }

  @Test
  void poissonIsReproducibleWithASeedAndHasTheRequestedMeanGap() {
    ArrivalSchedule a = new ArrivalSchedule(500, ArrivalSchedule.Distribution.POISSON, 7);
    ArrivalSchedule b = new ArrivalSchedule(500, ArrivalSchedule.Distribution.POISSON, 7);
    int n = 200_000;
    long prev = a.nextOffsetNanos();
    assertThat(b.nextOffsetNanos()).isEqualTo(prev);
    long distinctGaps = 0;
    long lastGap = -1;
    for (int i = 0; i < n; i++) {
      long t = a.nextOffsetNanos();
      assertThat(b.nextOffsetNanos()).isEqualTo(t);
      assertThat(t).isGreaterThanOrEqualTo(prev);
      if (t - prev != lastGap) {
        distinctGaps++;
      }
      lastGap = t - prev;
      prev = t;
    }
    assertThat(prev / (double) n).isCloseTo(2_000_000, within(2_000_000 * 0.02));
    assertThat(distinctGaps).isGreaterThan(n / 2);
  }

  @Test
  void differentSeedsGiveDifferentSchedules() {
    ArrivalSchedule a = new ArrivalSchedule(500, ArrivalSchedule.Distribution.POISSON, 1);
    ArrivalSchedule b = new ArrivalSchedule(500, ArrivalSchedule.Distribution.POISSON, 2);
    a.nextOffsetNanos();
    b.nextOffsetNanos();
    assertThat(a.nextOffsetNanos()).isNotEqualTo(b.nextOffsetNanos());
  }
}
