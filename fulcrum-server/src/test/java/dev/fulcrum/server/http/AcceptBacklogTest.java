package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.util.NetUtil;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

class AcceptBacklogTest {
  @Test
  void somaxconnCapsTheRequestedQueue() {
    assertThat(AcceptBacklog.effective(1024, OptionalInt.of(4096))).isEqualTo(1024);
    assertThat(AcceptBacklog.effective(1024, OptionalInt.of(128))).isEqualTo(128);
    assertThat(AcceptBacklog.effective(1024, OptionalInt.empty())).isEqualTo(1024);
  }

  @Test
  void aShortfallNamesTheSettingThatLiftsIt() {
    assertThat(AcceptBacklog.shortfall(1024, OptionalInt.of(4096))).isEmpty();
    assertThat(AcceptBacklog.shortfall(1024, OptionalInt.of(1024))).isEmpty();
    assertThat(AcceptBacklog.shortfall(1024, OptionalInt.empty())).isEmpty();
    assertThat(AcceptBacklog.shortfall(1024, OptionalInt.of(128)))
        .hasValueSatisfying(
            why ->
                assertThat(why)
                    .contains("net.core.somaxconn = 128")
                    .contains("sysctl -w net.core.somaxconn=1024"));
  }

  @Test
  void theKernelsCapIsReadWhole() {
    assumeTrue(Files.isReadable(Path.of("/proc/sys/net/core/somaxconn")), "Linux only");
    // Netty reads the same file its own way: a short read (e.g. "4" of "4096") would differ.
    assertThat(AcceptBacklog.somaxconn()).hasValue(NetUtil.SOMAXCONN);
  }

  @Test
  void theKernelFileIsReadAsAPositiveNumber() {
    assertThat(AcceptBacklog.parse("4096\n")).hasValue(4096);
    assertThat(AcceptBacklog.parse(" 128 ")).hasValue(128);
    assertThat(AcceptBacklog.parse("")).isEmpty();
    assertThat(AcceptBacklog.parse("0")).isEmpty();
    assertThat(AcceptBacklog.parse("many")).isEmpty();
  }
}
