package dev.fulcrum.core.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ComputeNiceTest {
  /** The calling thread's nice, from /proc (field 19 of its stat). */
  static int currentNice() throws IOException {
    String stat = Files.readString(Path.of("/proc/thread-self/stat"));
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Integer.parseInt(fields[16]);
  }

  @Test
  void validatesOnceFromZeroToNineteen() {
    assertThat(ComputeNice.of(0)).isSameAs(ComputeNice.none());
    assertThat(ComputeNice.none().lowers()).isFalse();
    assertThat(ComputeNice.of(19).nice()).isEqualTo(19);
    assertThatThrownBy(() -> ComputeNice.of(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(ComputeNice.PROPERTY);
    assertThatThrownBy(() -> ComputeNice.of(20)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void noneLeavesTheFactoryAndTheThreadAsTheyAre() {
    ThreadFactory threads = Thread::new;
    assertThat(ComputeNice.none().wrap(threads)).isSameAs(threads);
    assertThat(ComputeNice.none().applyToCurrentThread()).isFalse();
  }

  @Test
  void wrappedThreadsSetTheirOwnNiceAndNoOtherThreads() throws Exception {
    assumeThat(Path.of("/proc/thread-self/stat")).exists();
    int before = currentNice();
    assumeThat(before).isLessThan(7);
    AtomicInteger seen = new AtomicInteger(-100);
    Thread t =
        ComputeNice.of(7)
            .wrap(Thread::new)
            .newThread(
                () -> {
                  try {
                    seen.set(currentNice());
                  } catch (IOException e) {
                    seen.set(-200);
                  }
                });
    t.start();
    t.join();
    assertThat(seen.get()).isEqualTo(7);
    assertThat(currentNice()).isEqualTo(before);
  }
}
