package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class EarlyEngineTest {

  @Test
  void offStartsNothing() {
    AtomicInteger runs = new AtomicInteger();

    assertThat(EarlyEngine.start(false, runs::incrementAndGet)).isNull();
    assertThat(runs).hasValue(0);
  }

  @Test
  void onStartsTheEngineOnceOnADaemonThread() throws InterruptedException {
    AtomicInteger runs = new AtomicInteger();

    Thread thread = EarlyEngine.start(true, runs::incrementAndGet);

    assertThat(thread).isNotNull();
    assertThat(thread.isDaemon()).isTrue();
    assertThat(thread.getName()).isEqualTo("fulcrum-start-engine-early");
    thread.join();
    assertThat(runs).hasValue(1);
  }

  @Test
  void aFailureIsLeftToTheStartStep() throws InterruptedException {
    Thread thread =
        EarlyEngine.start(
            true,
            () -> {
              throw new UnsatisfiedLinkError("no onnxruntime here");
            });

    assertThat(thread).isNotNull();
    thread.join(); // ends quietly: the onnxruntime step meets the failure and reports it
  }
}
