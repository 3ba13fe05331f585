package dev.fulcrum.core.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * Direct buffers for tensors, small ones carved out of shared slabs. A buffer of at most {@link
 * #maxSliced()} bytes (a tabular row; a batch of them) is a slice of a shared {@link #slabBytes()}
 * slab; a larger one its own {@code ByteBuffer.allocateDirect}. Each {@code allocateDirect} costs
 * ~1 µs of CPU on this project's 2-core VM (the native {@code malloc}, zeroing, a {@code Cleaner}
 * registered) and more later: its {@code Cleaner} is a phantom reference that the next young
 * collection must process in its pause, and the reference handler thread wakes to {@code free} it.
 * For a fraud request that was its one direct buffer, and for a pass of two or more such rows the
 * buffer its inputs were joined into (PERFORMANCE.md, "Session 27 (lead)").
 *
 * <p>A slice is a view: it keeps its slab alive, and the garbage collector frees a slab once no
 * slice of it is reachable, so a tensor owns its buffer exactly as before (nothing is reused or
 * returned). A slab whose slices are all gone but one is kept whole by that one: at most {@link
 * #slabBytes()} held per retained small tensor.
 *
 * <p>Every buffer is zeroed, little-endian, positioned at 0 with limit and capacity its size, and
 * starts on a 16-byte boundary (as {@code malloc}'s did). Thread-safe: the current slab is replaced
 * by compare-and-set, and a slice's bytes are claimed by an atomic add.
 */
public final class TensorBuffers {
  /** Request bodies' slabs: 8 KiB, tensors of at most 256 bytes sliced. */
  static final int BODY_SLAB_BYTES = 8192;

  static final int BODY_MAX_SLICED = 256;

  private static final int ALIGN = 16;

  /** Each buffer its own {@code allocateDirect}, no slab (for callers outside a server). */
  public static final TensorBuffers UNSHARED = new TensorBuffers(0, 0);

  private final int slabBytes;
  private final int maxSliced;
  private final AtomicReference<@Nullable Slab> current = new AtomicReference<>();

  private TensorBuffers(int slabBytes, int maxSliced) {
    this.slabBytes = slabBytes;
    this.maxSliced = maxSliced;
  }

  /** Buffers for one server's request bodies: tensors of at most 256 bytes share 8 KiB slabs. */
  public static TensorBuffers shared() {
    return slabs(BODY_SLAB_BYTES, BODY_MAX_SLICED);
  }

  /**
   * Buffers of at most {@code maxSliced} bytes share slabs of {@code slabBytes}.
   *
   * @throws IllegalArgumentException unless {@code 0 < maxSliced <= slabBytes}
   */
  public static TensorBuffers slabs(int slabBytes, int maxSliced) {
    if (maxSliced <= 0 || maxSliced > slabBytes) {
      throw new IllegalArgumentException(
          "need 0 < maxSliced <= slabBytes, got " + maxSliced + " and " + slabBytes);
    }
    return new TensorBuffers(slabBytes, maxSliced);
  }

  /** The size of one shared slab (0: none). */
  public int slabBytes() {
    return slabBytes;
  }

  /** The largest buffer that is a slice of a slab; a larger one is its own (0: none is). */
  public int maxSliced() {
    return maxSliced;
  }

  /** A zeroed direct little-endian buffer of {@code bytes}, positioned at 0. */
  public ByteBuffer allocate(int bytes) {
    if (bytes <= 0 || bytes > maxSliced) {
      return ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
    int claim = (bytes + ALIGN - 1) & -ALIGN;
    while (true) {
      Slab s = current.get();
      if (s != null) {
        int at = s.used.getAndAdd(claim);
        if (at + claim <= slabBytes) {
          return s.buffer.slice(at, bytes).order(ByteOrder.LITTLE_ENDIAN);
        }
      }
      Slab fresh = new Slab(slabBytes, claim);
      if (current.compareAndSet(s, fresh)) {
        return fresh.buffer.slice(0, bytes).order(ByteOrder.LITTLE_ENDIAN);
      }
      // Another thread replaced the slab first: take from its slab; this one is left to the GC.
    }
  }

  /** One slab: its memory and the bytes handed out of it so far. */
  private static final class Slab {
    final ByteBuffer buffer;
    final AtomicInteger used;

    Slab(int bytes, int claimed) {
      buffer = ByteBuffer.allocateDirect(bytes);
      used = new AtomicInteger(claimed);
    }
  }
}
