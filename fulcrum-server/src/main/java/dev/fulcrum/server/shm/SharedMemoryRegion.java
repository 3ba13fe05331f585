package dev.fulcrum.server.shm;

import dev.fulcrum.core.error.InferenceException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;

/**
 * One registered region: {@code byteSize} bytes of the POSIX shared memory object {@code key}, from
 * {@code offset}, mapped read-write into the server ({@link java.nio.channels.FileChannel#map}).
 *
 * <p>Lifetime: the mapping is released by the garbage collector once nothing refers to this object
 * (there is no explicit unmap without the preview FFM API, and none is wanted): the registry drops
 * its reference on unregister, and a request that resolved the region holds it until the request is
 * done, so that a region unregistered (or its object unlinked) while a request reads or writes it
 * stays mapped under that request and is never touched after it was unmapped. A client that shrinks
 * the object under the mapping makes an access past its new end fault; the JVM reports that as an
 * {@link InternalError}, which {@link #read} and {@link #write} turn into a refusal.
 *
 * <p>Thread-safe: every access is an absolute bulk copy that leaves the shared buffer's position
 * and limit alone; what the client writes concurrently is the client's business, as in Triton.
 */
public final class SharedMemoryRegion {
  private final String name;
  private final String key;
  private final long offset;
  private final int byteSize;
  private final MappedByteBuffer mapped;

  SharedMemoryRegion(String name, String key, long offset, int byteSize, MappedByteBuffer mapped) {
    this.name = name;
    this.key = key;
    this.offset = offset;
    this.byteSize = byteSize;
    this.mapped = mapped;
  }

  /** The region's name, as registered. */
  public String name() {
    return name;
  }

  /** The shared memory object's key, as the client gave it (e.g. {@code /input_data}). */
  public String key() {
    return key;
  }

  /** Where the region starts in the object, in bytes. */
  public long offset() {
    return offset;
  }

  /** The region's size in bytes. */
  public long byteSize() {
    return byteSize;
  }

  /**
   * Checks that {@code [offset, offset + length)} lies in the region, in Triton's words.
   *
   * @throws InferenceException INVALID_ARGUMENT when it does not
   */
  void checkBounds(long at, long length) {
    if (at < 0 || at > byteSize || (at == byteSize && length > 0)) {
      throw InferenceException.invalid(
          "Invalid offset for shared memory region: '%s' (offset %d, the region has %d bytes)",
          name, at, byteSize);
    }
    if (length < 0 || length > byteSize - at) {
      throw InferenceException.invalid(
          "Invalid offset + byte size for shared memory region: '%s' (offset %d + byte size %d,"
              + " the region has %d bytes)",
          name, at, length, byteSize);
    }
  }

  /**
   * A copy of {@code length} bytes from {@code at}: a new direct little-endian buffer, which the
   * caller owns.
   *
   * @throws InferenceException INVALID_ARGUMENT out of bounds, or when the object shrank
   */
  public ByteBuffer read(long at, long length) {
    checkBounds(at, length);
    ByteBuffer copy = ByteBuffer.allocateDirect((int) length).order(ByteOrder.LITTLE_ENDIAN);
    try {
      copy.put(0, mapped, (int) at, (int) length);
    } catch (InternalError e) {
      throw shrunk(e);
    }
    return copy;
  }

  /**
   * Copies {@code data} (position to limit; neither is moved) to {@code at}.
   *
   * @throws InferenceException INVALID_ARGUMENT out of bounds, or when the object shrank
   */
  public void write(long at, ByteBuffer data) {
    int length = data.remaining();
    checkBounds(at, length);
    try {
      mapped.put((int) at, data, data.position(), length);
    } catch (InternalError e) {
      throw shrunk(e);
    }
  }

  private InferenceException shrunk(InternalError e) {
    return InferenceException.invalid(
        "shared memory region '%s' cannot be accessed: its object '%s' is smaller than when it was"
            + " registered (%s)",
        name, key, e.getMessage());
  }

  @Override
  public String toString() {
    return "SharedMemoryRegion["
        + name
        + ", key "
        + key
        + ", offset "
        + offset
        + ", "
        + byteSize
        + " bytes]";
  }
}
