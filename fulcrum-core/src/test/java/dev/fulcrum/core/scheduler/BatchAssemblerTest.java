package dev.fulcrum.core.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorBuffers;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Joining a pipeline's token ids of different lengths: padded to the longest, rows kept apart. */
class BatchAssemblerTest {

  @Test
  void padsRaggedSequencesToTheLongestWithZeros() {
    Tensor a = ids(new long[] {1}, new long[] {101, 7592, 2088, 102}); // [1, 4]
    Tensor b = ids(new long[] {2}, new long[] {101, 7, 102, 101, 8, 102}); // [2, 3]
    Tensor joined =
        BatchAssembler.join(List.of(List.of(a), List.of(b)), 0, 3, TensorBuffers.UNSHARED);
    assertThat(joined.shape()).containsExactly(3, 4);
    long[] values = new long[12];
    joined.data().asLongBuffer().get(values);
    assertThat(values).containsExactly(101, 7592, 2088, 102, 101, 7, 102, 0, 101, 8, 102, 0);
  }

  @Test
  void paddingFromASharedSlabIsZerosWhateverItsOtherSlicesHold() {
    TensorBuffers slabs = TensorBuffers.slabs(1024, 256);
    for (int i = 0; i < 3; i++) {
      ByteBuffer used = slabs.allocate(64);
      while (used.hasRemaining()) {
        used.put((byte) -1);
      }
    }
    Tensor a = ids(new long[] {1}, new long[] {101, 7592, 2088, 102});
    Tensor b = ids(new long[] {2}, new long[] {101, 7, 102, 101, 8, 102});
    Tensor joined = BatchAssembler.join(List.of(List.of(a), List.of(b)), 0, 3, slabs);
    long[] values = new long[12];
    joined.data().asLongBuffer().get(values);
    assertThat(values).containsExactly(101, 7592, 2088, 102, 101, 7, 102, 0, 101, 8, 102, 0);
  }

  @Test
  void equalShapesJoinUnpadded() {
    Tensor a = ids(new long[] {1}, new long[] {1, 2});
    Tensor b = ids(new long[] {1}, new long[] {3, 4});
    Tensor joined =
        BatchAssembler.join(List.of(List.of(a), List.of(b)), 0, 2, TensorBuffers.slabs(1024, 256));
    assertThat(joined.shape()).containsExactly(2, 2);
    long[] values = new long[4];
    joined.data().asLongBuffer().get(values);
    assertThat(values).containsExactly(1, 2, 3, 4);
  }

  @Test
  void onlyPaddableRequestsBatchAcrossLengthsAndAloneOnesNever() {
    Tensor four = ids(new long[] {1}, new long[] {1, 2, 3, 4});
    Tensor three = ids(new long[] {1}, new long[] {1, 2, 3});
    assertThat(pending(four, true, false).batchesWith(pending(three, true, false))).isTrue();
    assertThat(pending(four, false, false).batchesWith(pending(three, false, false))).isFalse();
    assertThat(pending(four, false, true).batchesWith(pending(four, false, true))).isFalse();
    PendingRequest alone = pending(four, false, true);
    assertThat(alone.batchesWith(alone)).isTrue();
  }

  private static PendingRequest pending(Tensor t, boolean paddable, boolean alone) {
    return new PendingRequest(
        null, List.of(t), List.of("y"), 1, 0, 0, Long.MAX_VALUE, 0, paddable, alone, null, null);
  }

  private static Tensor ids(long[] rows, long[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(values);
    return Tensor.of("input_ids", DataType.INT64, new long[] {rows[0], values.length / rows[0]}, b);
  }
}
