package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.server.DirectMemoryBudget;
import dev.fulcrum.server.http.BufferBudget;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Both ports get one budget, capped by the direct-memory limit read once. */
class RequestBytesBudgetTest {
  private static final long MIB = 1L << 20;

  @Test
  void bothPortsShareOneBudgetCappedAtHalfTheDirectMemoryLimit() {
    AtomicInteger reads = new AtomicInteger();
    RequestBytesBudget b =
        new RequestBytesBudget(
            1L << 30,
            (int) (64 * MIB),
            (int) (64 * MIB),
            () -> {
              reads.incrementAndGet();
              return new DirectMemoryBudget.Limit(256 * MIB, "test");
            });
    BufferBudget rest = b.get();
    assertThat(rest.limit()).isEqualTo(128 * MIB);
    assertThat(b.get()).isSameAs(rest);
    assertThat(reads).hasValue(1);
    // a 60 MiB body fits twice, not three times: the third is the port's 503
    assertThat(rest.tryReserve(60 * MIB)).isTrue();
    assertThat(rest.tryReserve(60 * MIB)).isTrue();
    assertThat(rest.tryReserve(60 * MIB)).isFalse();
  }

  @Test
  void aLimitAboveTwiceTheConfiguredBudgetKeepsIt() {
    RequestBytesBudget b =
        new RequestBytesBudget(
            1L << 30, 1 << 20, 1 << 20, () -> new DirectMemoryBudget.Limit(8L << 30, "test"));
    assertThat(b.get().limit()).isEqualTo(1L << 30);
  }
}
