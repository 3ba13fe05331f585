package dev.fulcrum.core.stats;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The machine's compute time: the ring forgets old seconds, the running total does not. */
class ComputeLedgerTest {
  private static final long MS = 1_000_000;
  private static final long S = 1_000 * MS;

  @Test
  void theTotalKeepsWhatTheRingForgot() {
    ComputeLedger ledger = new ComputeLedger(7 * S);
    ledger.add(7 * S + 10 * S, 300 * MS);
    ledger.add(7 * S + 400 * S, 100 * MS);
    ledger.add(7 * S + 400 * S + 500 * MS, 50 * MS);

    assertThat(ledger.busy(0, 400)).isEqualTo(150 * MS); // second 10 is gone
    assertThat(ledger.busy(400, 400)).isEqualTo(150 * MS);
    assertThat(ledger.total()).isEqualTo(450 * MS);
  }
}
