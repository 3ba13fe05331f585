package dev.fulcrum.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;

class TensorBuffersTest {
  @Test
  void everyBufferIsAFreshZeroedDirectLittleEndianBufferOfItsSize() {
    TensorBuffers buffers = TensorBuffers.shared();
    for (int size :
        new int[] {0, 1, 7, 16, 32, 255, 256, 257, 4096, TensorBuffers.BODY_SLAB_BYTES + 1}) {
      ByteBuffer b = buffers.allocate(size);
      assertThat(b.isDirect()).isTrue();
      assertThat(b.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
      assertThat(b.position()).isZero();
      assertThat(b.limit()).isEqualTo(size);
      assertThat(b.capacity()).isEqualTo(size);
      for (int i = 0; i < size; i++) {
        assertThat(b.get(i)).isZero();
      }
    }
  }

  @Test
  void slicesOfOneSlabDoNotOverlapAndANewSlabFollowsAFullOne() {
    TensorBuffers buffers = TensorBuffers.shared();
    List<ByteBuffer> all = new ArrayList<>();
    // More than two slabs' worth, of sizes that are not multiples of the alignment.
    for (int i = 0; i < 3 * TensorBuffers.BODY_SLAB_BYTES / 48; i++) {
      ByteBuffer b = buffers.allocate(33 + i % 9);
      for (int j = 0; j < b.capacity(); j++) {
        b.put(j, (byte) i);
      }
      all.add(b);
    }
    for (int i = 0; i < all.size(); i++) {
      ByteBuffer b = all.get(i);
      for (int j = 0; j < b.capacity(); j++) {
        assertThat(b.get(j)).isEqualTo((byte) i);
      }
    }
  }

  @Test
  void threadsTakingAtOnceGetDisjointBuffers() throws InterruptedException {
    TensorBuffers buffers = TensorBuffers.shared();
    ConcurrentLinkedQueue<ByteBuffer> taken = new ConcurrentLinkedQueue<>();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int id = t;
      threads.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    for (int i = 0; i < 2000; i++) {
                      ByteBuffer b = buffers.allocate(32);
                      b.putInt(0, id).putInt(4, i).putLong(8, id * 1_000_000L + i);
                      taken.add(b);
                    }
                  }));
    }
    for (Thread t : threads) {
      t.join();
    }
    assertThat(taken).hasSize(8000);
    for (ByteBuffer b : taken) {
      assertThat(b.getLong(8)).isEqualTo(b.getInt(0) * 1_000_000L + b.getInt(4));
      assertThat(b.getLong(16)).isZero();
    }
  }

  @Test
  void unsharedBuffersAreEachTheirOwn() {
    ByteBuffer a = TensorBuffers.UNSHARED.allocate(32);
    ByteBuffer b = TensorBuffers.UNSHARED.allocate(32);
    a.putLong(0, -1);
    assertThat(b.getLong(0)).isZero();
    assertThat(a.capacity()).isEqualTo(32);
    assertThat(a.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
  }

  @Test
  void batchSlabsSliceUpToTheirLimitAndRefuseALimitOverTheSlab() {
    TensorBuffers buffers = TensorBuffers.slabs(16 * 1024, 2048);
    ByteBuffer a = buffers.allocate(2048);
    ByteBuffer b = buffers.allocate(2048);
    ByteBuffer own = buffers.allocate(2049);
    a.put(0, (byte) 1).put(2047, (byte) 2);
    assertThat(b.get(0)).isZero();
    assertThat(b.get(2047)).isZero();
    assertThat(own.capacity()).isEqualTo(2049);
    assertThat(own.isDirect()).isTrue();
    assertThat(buffers.slabBytes()).isEqualTo(16 * 1024);
    assertThat(buffers.maxSliced()).isEqualTo(2048);
    assertThatThrownBy(() -> TensorBuffers.slabs(1024, 2048))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxSliced");
    assertThatThrownBy(() -> TensorBuffers.slabs(1024, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
