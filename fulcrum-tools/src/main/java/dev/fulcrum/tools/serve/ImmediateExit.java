package dev.fulcrum.tools.serve;

import dev.fulcrum.core.runtime.LibcDowncall;
import java.lang.invoke.MethodHandle;
import org.jspecify.annotations.Nullable;

/**
 * Ends the process with a status at once, running neither the JVM's exit sequence (its shutdown
 * hooks, among them ONNX Runtime's, which frees the native environment) nor the C library's ({@code
 * atexit} handlers and the static destructors of the native libraries, ONNX Runtime's among them):
 * for a stop that leaves a thread inside ONNX Runtime, a session build that cannot be interrupted,
 * where either teardown would free what that thread uses. {@code _exit(2)} through the foreign
 * function API; {@link Runtime#halt} where it cannot be called ({@code halt} skips the hooks but
 * ends with the C library's {@code exit}). Standard output and error are flushed first.
 *
 * <p>Stateless; thread-safe.
 */
final class ImmediateExit {
  private ImmediateExit() {}

  /** Ends the process with {@code status}; never returns. */
  static void now(int status) {
    System.out.flush();
    System.err.flush();
    @Nullable MethodHandle exit = LibcDowncall.find("_exit", void.class, int.class);
    if (exit != null) {
      try {
        exit.invoke(status);
      } catch (Throwable e) {
        // not called: halt below
      }
    }
    Runtime.getRuntime().halt(status);
  }
}
