package dev.fulcrum.core.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.lang.invoke.MethodHandle;
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
  void aMissingSymbolOrAnUnsupportedTypeHasNoHandle() {
    assertThat(LibcDowncall.find("no_such_function_in_libc", int.class)).isNull();
    assertThat(LibcDowncall.find("getpid", double.class)).isNull();
  }
}
