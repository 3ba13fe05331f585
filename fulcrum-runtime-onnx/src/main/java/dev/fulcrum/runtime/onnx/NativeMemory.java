package dev.fulcrum.runtime.onnx;

import dev.fulcrum.core.runtime.LibcDowncall;
import java.lang.invoke.MethodHandle;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands memory that ONNX Runtime freed back to the operating system, after a session closes.
 *
 * <p>Why: glibc's malloc raises its mmap threshold (up to 32 MiB) once large blocks are freed, so
 * the weights of a model loaded after an unload live in malloc's heap arena, and what a closed
 * session frees stays resident in the arena: 20 unload/load cycles of MiniLM left RSS ~14 % above
 * where it started (docs/PERFORMANCE.md, "Lifecycle"). {@code malloc_trim(0)} returns the free
 * pages of every arena. It is called through {@link LibcDowncall}; on a JDK without the foreign
 * function API, or a C library without {@code malloc_trim} (musl, macOS), {@link #trim} does
 * nothing.
 *
 * <p>Thread-safe: the handle is resolved once, lazily; {@code malloc_trim} locks the arenas itself.
 * Called on a model's control or worker thread when an instance closes, never per request.
 */
final class NativeMemory {
  private static final Logger log = LoggerFactory.getLogger(NativeMemory.class);

  private NativeMemory() {}

  private static final class Holder {
    static final @Nullable MethodHandle MALLOC_TRIM = lookup();
  }

  /** Returns free native memory to the operating system, where the platform allows. */
  static void trim() {
    @Nullable MethodHandle h = Holder.MALLOC_TRIM;
    if (h == null) {
      return;
    }
    try {
      int unused = (int) h.invoke(0L);
      log.debug("malloc_trim(0) returned {}", unused);
    } catch (Throwable t) {
      log.debug("malloc_trim failed: {}", t.toString());
    }
  }

  /** {@code int malloc_trim(size_t pad)}, or null where it cannot be called. */
  private static @Nullable MethodHandle lookup() {
    MethodHandle h = LibcDowncall.find("malloc_trim", int.class, long.class);
    if (h == null) {
      log.debug("malloc_trim is not available");
    }
    return h;
  }
}
