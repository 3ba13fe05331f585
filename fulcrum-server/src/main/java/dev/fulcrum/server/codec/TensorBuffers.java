package dev.fulcrum.server.codec;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * The direct buffers that request bodies are decoded into. A small tensor (at most {@link
 * #MAX_SLICED} bytes, a tabular row) gets a slice of a shared {@link #SLAB_BYTES} slab; a larger
 * one its own {@code ByteBuffer.allocateDirect}. Each {@code allocateDirect} costs ~1 µs of CPU on
 * this project's 2-core VM (the native {@code malloc}, zeroing, a {@code Cleaner} registered, and
 * later the reference handler's {@code free}): for a fraud request that was its one direct buffer.
 * A slice is a view: it keeps its slab alive, and the garbage collector frees a slab once no slice
 * of it is reachable, so a tensor owns its buffer exactly as before (nothing is reused or
 * returned). A slab whose slices are all gone but one is kept whole by that one: at most {@link
 * #SLAB_BYTES} held per retained small tensor.
 *
 * <p>Every buffer is zeroed, little-endian, positioned at 0 with limit and capacity its size, and
 * starts on a 16-byte boundary (as {@code malloc}'s did). Thread-safe: the current slab is replaced
 * by compare-and-set, and a slice's bytes are claimed by an atomic add.
 */
public final class TensorBuffers {
  /** The size of one shared slab. */
  static final int SLAB_BYTES = 8192;

  /** The largest tensor that is a slice of a slab; a larger one gets its own buffer. */
  static final int MAX_SLICED = 256;

  private static final int ALIGN = 16;

  /** Each buffer its own {@code allocateDirect}, no slab (for callers outside a server). */
  public static final TensorBuffers UNSHARED = new TensorBuffers(false);

  private final boolean slabs;
  private final AtomicReference<@Nullable Slab> current = new AtomicReference<>();

  private TensorBuffers(boolean slabs) {
    this.slabs = slabs;
  }

  /** Buffers for one server's request bodies: small tensors share slabs. */
  public static TensorBuffers shared() {
    return new TensorBuffers(true);
  }

  /** A zeroed direct little-endian buffer of {@code bytes}, positioned at 0. */
  public ByteBuffer allocate(int bytes) {
    if (!slabs || bytes <= 0 || bytes > MAX_SLICED) {
      return ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
    int claim = (bytes + ALIGN - 1) & -ALIGN;
    while (true) {
      Slab s = current.get();
      if (s != null) {
        int at = s.used.getAndAdd(claim);
        if (at + claim <= SLAB_BYTES) {
          return s.buffer.slice(at, bytes).order(ByteOrder.LITTLE_ENDIAN);
        }
      }
      Slab fresh = new Slab(claim);
      if (current.compareAndSet(s, fresh)) {
        return fresh.buffer.slice(0, bytes).order(ByteOrder.LITTLE_ENDIAN);
      }
      // Another thread replaced the slab first: take from its slab; this one is left to the GC.
    }
  }

  /** One slab: its memory and the bytes handed out of it so far. */
  private static final class Slab {
    final ByteBuffer buffer = ByteBuffer.allocateDirect(SLAB_BYTES);
    final AtomicInteger used;

    Slab(int claimed) {
      used = new AtomicInteger(claimed);
    }
  }
}
