package dev.fulcrum.core.runtime;

import java.lang.invoke.MethodHandle;
import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.util.Locale;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A method handle for a C library function on Linux, made with the JDK's foreign function API. The
 * API is looked up by reflection because the code is compiled for Java 21, where it is a preview;
 * on another OS, a JDK without it, or a C library without the symbol, there is no handle. For the
 * few calls the JDK has no Java API for (a thread's nice, {@code malloc_trim}), resolved once per
 * caller, never per request.
 *
 * <p>Stateless and thread-safe.
 */
public final class LibcDowncall {
  private LibcDowncall() {}

  /**
   * {@code name}'s handle, with C {@code int} or {@code long} (a {@code size_t}) arguments and
   * result given as {@code int.class} or {@code long.class} ({@code void.class}: no result); null
   * where it cannot be called.
   */
  public static @Nullable MethodHandle find(String name, Class<?> result, Class<?>... arguments) {
    if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
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
          (Optional<?>) lookupType.getMethod("find", String.class).invoke(libc, name);
      if (symbol.isEmpty()) {
        return null;
      }
      Object args = Array.newInstance(layoutType, arguments.length);
      for (int i = 0; i < arguments.length; i++) {
        Array.set(args, i, layout(valueLayouts, arguments[i]));
      }
      Object descriptor =
          result == void.class
              ? descriptorType.getMethod("ofVoid", args.getClass()).invoke(null, args)
              : descriptorType
                  .getMethod("of", layoutType, args.getClass())
                  .invoke(null, layout(valueLayouts, result), args);
      Method downcall =
          linkerType.getMethod(
              "downcallHandle", segmentType, descriptorType, optionType.arrayType());
      return (MethodHandle)
          downcall.invoke(linker, symbol.get(), descriptor, Array.newInstance(optionType, 0));
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      return null;
    }
  }

  /**
   * The native address of a direct buffer's byte 0 (wherever its position is), to pass as a C
   * pointer (as a {@code long}, which the platforms the JDK links C for pass as they pass a
   * pointer); -1 where the foreign function API is missing or the buffer is not direct. Keep the
   * buffer reachable for as long as the address is used.
   */
  public static long address(ByteBuffer direct) {
    if (!direct.isDirect()) {
      return -1;
    }
    try {
      Class<?> segmentType = Class.forName("java.lang.foreign.MemorySegment");
      Object segment =
          segmentType.getMethod("ofBuffer", Buffer.class).invoke(null, direct.duplicate().clear());
      return (long) segmentType.getMethod("address").invoke(segment);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      return -1;
    }
  }

  private static Object layout(Class<?> valueLayouts, Class<?> type)
      throws ReflectiveOperationException {
    if (type == int.class) {
      return valueLayouts.getField("JAVA_INT").get(null);
    }
    if (type == long.class) {
      return valueLayouts.getField("JAVA_LONG").get(null);
    }
    throw new IllegalArgumentException("only int and long, not " + type);
  }
}
