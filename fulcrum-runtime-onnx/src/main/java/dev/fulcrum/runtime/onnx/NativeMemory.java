package dev.fulcrum.runtime.onnx;

import java.lang.invoke.MethodHandle;
import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.util.Optional;
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
 * pages of every arena. It is called through the JDK's foreign function API, looked up by
 * reflection because the code is compiled for Java 21, where that API is a preview; on a JDK
 * without it, or a C library without {@code malloc_trim} (musl, macOS), {@link #trim} does nothing.
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
    if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
      return null;
    }
    try {
      Class<?> linkerType = Class.forName("java.lang.foreign.Linker");
      Class<?> lookupType = Class.forName("java.lang.foreign.SymbolLookup");
      Class<?> segmentType = Class.forName("java.lang.foreign.MemorySegment");
      Class<?> layoutType = Class.forName("java.lang.foreign.MemoryLayout");
      Class<?> valueLayouts = Class.forName("java.lang.foreign.ValueLayout");
      Class<?> descriptorType = Class.forName("java.lang.foreign.FunctionDescriptor");
      Class<?> optionType = Class.forName("java.lang.foreign.Linker$Option");
      Object linker = linkerType.getMethod("nativeLinker").invoke(null);
      Object libc = linkerType.getMethod("defaultLookup").invoke(linker);
      Optional<?> symbol =
          (Optional<?>) lookupType.getMethod("find", String.class).invoke(libc, "malloc_trim");
      if (symbol.isEmpty()) {
        return null;
      }
      Object jint = valueLayouts.getField("JAVA_INT").get(null);
      Object jlong = valueLayouts.getField("JAVA_LONG").get(null);
      Object args = Array.newInstance(layoutType, 1);
      Array.set(args, 0, jlong);
      Object descriptor =
          descriptorType.getMethod("of", layoutType, args.getClass()).invoke(null, jint, args);
      Method downcall =
          linkerType.getMethod(
              "downcallHandle", segmentType, descriptorType, optionType.arrayType());
      return (MethodHandle)
          downcall.invoke(linker, symbol.get(), descriptor, Array.newInstance(optionType, 0));
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      log.debug("malloc_trim is not available: {}", e.toString());
      return null;
    }
  }
}
