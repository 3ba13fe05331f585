package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The monitor's queue: a stalled consumer makes submitters drop and count, never wait. */
class DriftMonitorQueueTest {

  private static Completed observation(int i) {
    ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, i);
    Tensor x = Tensor.of("x", DataType.FP32, new long[] {1, 1}, b);
    return new Completed(
        null,
        new InferenceRequest("m", "1", Integer.toString(i), Map.of(), List.of(x), List.of()),
        new InferenceResponse("m", "1", Integer.toString(i), Map.of(), List.of()),
        i,
        0);
  }

  @Test
  void aStalledConsumerDropsAndCountsWithoutBlockingSubmitters() throws Exception {
    CountDownLatch stall = new CountDownLatch(1);
    CountDownLatch stalled = new CountDownLatch(1);
    AtomicInteger processed = new AtomicInteger();
    try (DriftMonitor monitor =
        new DriftMonitor(
            16,
            null,
            List.of(),
            true,
            DriftMonitor.NO_RATE_LIMIT,
            o -> {
              stalled.countDown();
              try {
                stall.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              processed.incrementAndGet();
            })) {
      monitor.offer(observation(0));
      assertThat(stalled.await(10, TimeUnit.SECONDS)).isTrue();
      // The consumer holds one request; 16 fit in the queue; the rest are dropped at once.
      Thread submitter =
          Thread.ofPlatform()
              .start(
                  () -> {
                    for (int i = 1; i <= 10_000; i++) {
                      monitor.offer(observation(i));
                    }
                  });
      // Bounded wait: the submitter finishes while the consumer is still stalled.
      submitter.join(Duration.ofSeconds(30));
      assertThat(submitter.isAlive()).isFalse();
      assertThat(monitor.dropped()).isEqualTo(10_000 - 16);
      stall.countDown();
      assertThat(monitor.awaitIdle(Duration.ofSeconds(30))).isTrue();
      assertThat(processed.get()).isEqualTo(17);
    }
  }
}
