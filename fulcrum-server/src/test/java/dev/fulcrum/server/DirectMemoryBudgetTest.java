package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The request budget in force under a direct-memory limit, and where the limit is read from. */
class DirectMemoryBudgetTest {
  private static final long MIB = 1L << 20;
  private static final long GIB = 1L << 30;

  @Test
  void aContainerSizedHeapLowersTheDefaultBudgetToHalfItsDirectMemory() {
    // -XX:MaxRAM=1g: a 256 MiB heap, and no -XX:MaxDirectMemorySize, so 256 MiB of direct memory
    DirectMemoryBudget.Limit limit = DirectMemoryBudget.limitOf("0", 256 * MIB, null);
    assertThat(limit.bytes()).isEqualTo(256 * MIB);
    DirectMemoryBudget.Choice c = DirectMemoryBudget.choose(GIB, limit);
    assertThat(c.effective()).isEqualTo(128 * MIB);
    assertThat(c.lowered()).isTrue();
    assertThat(c.describe())
        .contains("128 MiB")
        .contains("lowered from --http-max-buffered-bytes 1 GiB")
        .contains("256 MiB (no -XX:MaxDirectMemorySize, so the max heap)");
  }

  @Test
  void aLargeEnoughLimitKeepsTheConfiguredBudget() {
    DirectMemoryBudget.Choice c =
        DirectMemoryBudget.choose(GIB, DirectMemoryBudget.limitOf("0", 6 * GIB, null));
    assertThat(c.effective()).isEqualTo(GIB);
    assertThat(c.lowered()).isFalse();
    assertThat(c.describe())
        .contains("1 GiB (--http-max-buffered-bytes)")
        .doesNotContain("lowered");
    // exactly half is not lowered
    assertThat(DirectMemoryBudget.choose(GIB, new DirectMemoryBudget.Limit(2 * GIB, "x")).lowered())
        .isFalse();
  }

  @Test
  void maxDirectMemorySizeWinsOverTheHeap() {
    DirectMemoryBudget.Limit limit = DirectMemoryBudget.limitOf("536870912", 6 * GIB, null);
    assertThat(limit).isEqualTo(new DirectMemoryBudget.Limit(512 * MIB, "-XX:MaxDirectMemorySize"));
    assertThat(DirectMemoryBudget.choose(GIB, limit).effective()).isEqualTo(256 * MIB);
    // larger than the heap counts too: direct memory is not heap
    assertThat(DirectMemoryBudget.limitOf(Long.toString(4 * GIB), 256 * MIB, null).bytes())
        .isEqualTo(4 * GIB);
  }

  @Test
  void nettysOwnCapCountsWhenSmaller() {
    assertThat(DirectMemoryBudget.limitOf("0", GIB, Long.toString(64 * MIB)))
        .isEqualTo(new DirectMemoryBudget.Limit(64 * MIB, "-Dio.netty.maxDirectMemory"));
    // 0 and negative mean "the JVM's" and "no cap of Netty's own": the JVM's limit stands
    assertThat(DirectMemoryBudget.limitOf("0", GIB, "0").bytes()).isEqualTo(GIB);
    assertThat(DirectMemoryBudget.limitOf("0", GIB, "-1").bytes()).isEqualTo(GIB);
    assertThat(DirectMemoryBudget.limitOf("0", GIB, "junk").bytes()).isEqualTo(GIB);
    assertThat(DirectMemoryBudget.limitOf("0", GIB, Long.toString(2 * GIB)).bytes()).isEqualTo(GIB);
  }

  @Test
  void anUnreadableOptionIsTakenAsTheHeapsDefault() {
    assertThat(DirectMemoryBudget.limitOf(null, 300 * MIB, null))
        .isEqualTo(new DirectMemoryBudget.Limit(300 * MIB, "taken as the max heap"));
  }

  @Test
  void aSmallConfiguredBudgetIsKeptAndATinyLimitStillLeavesAByte() {
    assertThat(
            DirectMemoryBudget.choose(64 * MIB, new DirectMemoryBudget.Limit(256 * MIB, "x"))
                .effective())
        .isEqualTo(64 * MIB);
    assertThat(DirectMemoryBudget.choose(GIB, new DirectMemoryBudget.Limit(1, "x")).effective())
        .isEqualTo(1);
  }

  @Test
  void thisJvmsLimitIsReadable() {
    DirectMemoryBudget.Limit limit = DirectMemoryBudget.jvmLimit();
    assertThat(limit.bytes()).isPositive();
    assertThat(limit.source()).isNotEqualTo("taken as the max heap"); // the bean answered
  }

  @Test
  void sizesReadAsMibAndGib() {
    assertThat(DirectMemoryBudget.bytes(GIB)).isEqualTo("1 GiB");
    assertThat(DirectMemoryBudget.bytes(3 * GIB / 2)).isEqualTo("1.5 GiB");
    assertThat(DirectMemoryBudget.bytes(256 * MIB)).isEqualTo("256 MiB");
    assertThat(DirectMemoryBudget.bytes(1000)).isEqualTo("1000 bytes");
    assertThat(DirectMemoryBudget.bytes(Long.MAX_VALUE)).isEqualTo("unlimited");
  }
}
