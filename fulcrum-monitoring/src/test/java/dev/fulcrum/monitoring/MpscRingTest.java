package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The monitor's lock-free queue: bounded, every accepted element delivered once, in order. */
class MpscRingTest {

  @Test
  void refusesWhenFullAndAcceptsAgainOnceConsumed() {
    MpscRing<Integer> ring = new MpscRing<>(3); // rounded up to 4
    assertThat(ring.capacity()).isEqualTo(4);
    for (int i = 0; i < 4; i++) {
      assertThat(ring.offer(i)).isTrue();
    }
    assertThat(ring.offer(4)).isFalse();
    assertThat(ring.poll()).isEqualTo(0);
    assertThat(ring.offer(5)).isTrue();
    assertThat(ring.offer(6)).isFalse();
    List<Integer> rest = new ArrayList<>();
    for (Integer x = ring.poll(); x != null; x = ring.poll()) {
      rest.add(x);
    }
    assertThat(rest).containsExactly(1, 2, 3, 5);
    assertThat(ring.accepted()).isEqualTo(5);
  }

  @Test
  void oneSlotIsTwo() {
    MpscRing<String> ring = new MpscRing<>(1);
    assertThat(ring.offer("a")).isTrue();
    assertThat(ring.offer("b")).isTrue();
    assertThat(ring.offer("c")).isFalse();
    assertThat(ring.poll()).isEqualTo("a");
    assertThat(ring.poll()).isEqualTo("b");
    assertThat(ring.poll()).isNull();
  }

  @Test
  void manyProducersOneConsumerLoseAndRepeatNothing() throws Exception {
    int producers = 4;
    int each = 200_000;
    MpscRing<long[]> ring = new MpscRing<>(64); // small: producers meet a full queue often
    AtomicInteger refused = new AtomicInteger();
    List<Thread> threads = new ArrayList<>();
    for (int p = 0; p < producers; p++) {
      int id = p;
      threads.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    for (int i = 0; i < each; i++) {
                      if (!ring.offer(new long[] {id, i})) {
                        refused.incrementAndGet();
                      }
                    }
                  }));
    }
    long[] last = new long[producers];
    java.util.Arrays.fill(last, -1);
    long received = 0;
    while (threads.stream().anyMatch(Thread::isAlive) || received < ring.accepted()) {
      long[] x = ring.poll();
      if (x == null) {
        Thread.onSpinWait();
        continue;
      }
      int id = (int) x[0];
      assertThat(x[1]).isGreaterThan(last[id]); // each producer's elements in order, once
      last[id] = x[1];
      received++;
    }
    for (Thread t : threads) {
      t.join();
    }
    assertThat(ring.poll()).isNull();
    assertThat(received).isEqualTo(ring.accepted());
    assertThat(received + refused.get()).isEqualTo((long) producers * each);
  }
}
