package dev.fulcrum.core.runtime;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.util.Locale;
import org.junit.jupiter.api.Test;

class LibcDowncallTest {
  @Test
  void aLibcFunctionIsCalledWithItsResult() throws Throwable {
    assumeThat(System.getProperty("os.name").toLowerCase(Locale.ROOT)).contains("linux");
    MethodHandle getpid = LibcDowncall.find("getpid", int.class);
    assertThat(getpid).isNotNull();
    assertThat((long) (int) getpid.invoke()).isEqualTo(ProcessHandle.current().pid());
  }

  @Test
  void aDirectBufferHasTheAddressACFunctionReads() throws Throwable {
    assumeThat(System.getProperty("os.name").toLowerCase(Locale.ROOT)).contains("linux");
    ByteBuffer text = ByteBuffer.allocateDirect(8).put("fulcrum\0".getBytes(US_ASCII));
    long address = LibcDowncall.address(text);
    MethodHandle strlen = LibcDowncall.find("strlen", long.class, long.class);
    assertThat(address).isPositive();
    assertThat(strlen).isNotNull();
    assertThat((long) strlen.invoke(address)).isEqualTo(7);
    assertThat(LibcDowncall.address(ByteBuffer.allocate(8))).isEqualTo(-1);
  }

  @Test
  void aFunctionWithoutAResultIsCalled() throws Throwable {
    // as _exit(2) is (ImmediateExit), here with srand(3), which returns nothing either
    assumeThat(System.getProperty("os.name").toLowerCase(Locale.ROOT)).contains("linux");
    MethodHandle srand = LibcDowncall.find("srand", void.class, int.class);
    assertThat(srand).isNotNull();
    srand.invoke(42);
    assertThat(LibcDowncall.find("_exit", void.class, int.class)).isNotNull();
  }

  @Test
  void aMissingSymbolOrAnUnsupportedTypeHasNoHandle() {
    assertThat(LibcDowncall.find("no_such_function_in_libc", int.class)).isNull();
    assertThat(LibcDowncall.find("getpid", double.class)).isNull();
  }
}
