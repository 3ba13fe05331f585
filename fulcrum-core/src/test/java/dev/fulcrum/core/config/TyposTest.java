package dev.fulcrum.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TyposTest {
  @Test
  void aSwapOfNeighboursIsOneEditAsAnInsertionDeletionOrSubstitutionIs() {
    assertThat(Typos.distance("max-batch-sise", "max-batch-size")).isEqualTo(1);
    assertThat(Typos.distance("max-bacth-size", "max-batch-size")).isEqualTo(1);
    assertThat(Typos.distance("max-batchsize", "max-batch-size")).isEqualTo(1);
    assertThat(Typos.distance("", "abc")).isEqualTo(3);
    assertThat(Typos.distance("slo", "slo")).isZero();
  }

  @Test
  void aSlipIsOneEditInAShortNameAndTwoInALongerOne() {
    assertThat(Typos.isSlip("sol", 1)).isTrue();
    assertThat(Typos.isSlip("sol", 2)).isFalse();
    assertThat(Typos.isSlip("instnaces", 2)).isTrue();
    assertThat(Typos.isSlip("instnaces", 3)).isFalse();
  }
}
