package dev.fulcrum.core.runtime;

import java.lang.invoke.MethodHandle;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands the native heap's free pages back to the operating system: {@code malloc_trim(0)}.
 *
 * <p>Why: glibc's malloc raises its mmap threshold (up to 32 MiB) once large blocks are freed, and
 * keeps freed memory mapped in its arenas, so what a closed inference session freed (its weights)
 * or what request buffers and per-pass tensors cycled through stays resident until something trims
 * it: 20 unload/load cycles of MiniLM left RSS ~14 % above where it started (docs/PERFORMANCE.md,
 * "Lifecycle"). Called by an engine after a session closes, and by {@link IdleHeapTrimmer} while
 * the server is idle; never per request (a trim locks every arena). Through {@link LibcDowncall};
 * on a JDK without the foreign function API, or a C library without {@code malloc_trim} (musl,
 * macOS), {@link #trim} does nothing.
 *
 * <p>Thread-safe: the handle is resolved once, lazily; {@code malloc_trim} locks the arenas itself.
 */
public final class NativeHeap {
  private static final Logger log = LoggerFactory.getLogger(NativeHeap.class);

  private NativeHeap() {}

  private static final class Holder {
    static final @Nullable MethodHandle MALLOC_TRIM = lookup();
  }

  /** Whether {@link #trim} can do anything here. */
  public static boolean available() {
    return Holder.MALLOC_TRIM != null;
  }

  /** Returns free native memory to the operating system, where the platform allows. */
  public static void trim() {
    @Nullable MethodHandle h = Holder.MALLOC_TRIM;
    if (h == null) {
      return;
    }
    try {
      int released = (int) h.invoke(0L);
      log.debug("malloc_trim(0) returned {}", released);
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
