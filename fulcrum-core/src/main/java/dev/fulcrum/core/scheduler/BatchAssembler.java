package dev.fulcrum.core.scheduler;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorBuffers;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Joins the inputs of a batch along the batch dimension and splits the outputs back per request.
 * Stateless. A joined input is one new direct buffer from the caller's {@link TensorBuffers} (the
 * one copy batching costs, and the buffer the engine can hand to native code as is; a small one a
 * slice of a shared slab, never reused); split outputs are slices of the engine's output buffers,
 * without copies.
 */
final class BatchAssembler {
  private BatchAssembler() {}

  /**
   * Joins input {@code index} of every request, in order, into one tensor. Inputs whose last
   * dimension differs (a pipeline's token ids, which the scheduler lets batch) are padded with
   * zeros to the longest: each row's values first, then zeros (BERT's [PAD] id and a 0 attention
   * mask), so that a request's positions keep their indices.
   */
  static Tensor join(
      List<List<Tensor>> perRequest, int index, int totalRows, TensorBuffers buffers) {
    Tensor first = perRequest.get(0).get(index);
    int rank = first.rank();
    long longest = rank >= 2 ? first.dim(rank - 1) : 0;
    boolean ragged = false;
    for (List<Tensor> inputs : perRequest) {
      Tensor t = inputs.get(index);
      if (rank >= 2 && t.dim(rank - 1) != longest) {
        ragged = true;
        longest = Math.max(longest, t.dim(rank - 1));
      }
    }
    if (ragged && first.datatype().isFixedSize()) {
      return padded(perRequest, index, totalRows, longest, buffers);
    }
    int bytes = 0;
    for (List<Tensor> inputs : perRequest) {
      bytes = Math.addExact(bytes, inputs.get(index).byteSize());
    }
    ByteBuffer joined = buffers.allocate(bytes);
    for (List<Tensor> inputs : perRequest) {
      joined.put(inputs.get(index).data());
    }
    joined.flip();
    long[] shape = first.shape();
    shape[0] = totalRows;
    return Tensor.of(first.name(), first.datatype(), shape, joined);
  }

  private static Tensor padded(
      List<List<Tensor>> perRequest,
      int index,
      int totalRows,
      long longest,
      TensorBuffers buffers) {
    Tensor first = perRequest.get(0).get(index);
    long[] shape = first.shape();
    shape[0] = totalRows;
    shape[shape.length - 1] = longest;
    int element = first.datatype().byteSize();
    long rowLength = Shapes.elementCount(Shapes.dropFirst(shape)) / longest; // rows of the last dim
    int bytes = Math.toIntExact(Shapes.elementCount(shape) * element);
    ByteBuffer joined = buffers.allocate(bytes);
    int paddedRow = Math.toIntExact(longest * element);
    for (List<Tensor> inputs : perRequest) {
      Tensor t = inputs.get(index);
      ByteBuffer data = t.data();
      int length = Math.toIntExact(t.dim(t.rank() - 1) * element);
      long rows = t.dim(0) * rowLength;
      for (long r = 0; r < rows; r++) {
        int start = joined.position();
        data.limit(data.position() + length);
        joined.put(data);
        data.limit(data.capacity());
        joined.position(start + paddedRow); // a direct buffer starts zeroed
      }
    }
    joined.flip();
    return Tensor.of(first.name(), first.datatype(), shape, joined);
  }

  /** A joined batch whose outputs cannot be split back per request. */
  static final class NotBatchAligned extends RuntimeException {
    private static final long serialVersionUID = 1L;

    NotBatchAligned(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * Splits a batched output into one tensor per request.
   *
   * @param rows the batch rows of each request, in batch order
   * @throws NotBatchAligned when the output's first dimension is not the batch size (the graph does
   *     not batch along dimension 0)
   */
  static List<Tensor> split(Tensor output, int[] rows, int totalRows) {
    long[] shape = output.shape();
    if (shape.length == 0 || shape[0] != totalRows) {
      throw new NotBatchAligned(
          "output '"
              + output.name()
              + "' has shape "
              + Shapes.toString(shape)
              + " for a batch of "
              + totalRows
              + " rows");
    }
    long perRow = totalRows == 0 ? 0 : Shapes.elementCount(Shapes.dropFirst(shape));
    ByteBuffer all = output.unsafeData();
    List<Tensor> parts = new ArrayList<>(rows.length);
    int offset = 0;
    for (int r : rows) {
      long[] partShape = shape.clone();
      partShape[0] = r;
      int length;
      if (output.datatype() == DataType.BYTES) {
        length = bytesLength(all, offset, perRow * r);
      } else {
        length = Math.toIntExact(perRow * r * output.datatype().byteSize());
      }
      ByteBuffer part = all.duplicate().position(offset).limit(offset + length).slice();
      parts.add(Tensor.of(output.name(), output.datatype(), partShape, part));
      offset += length;
    }
    return parts;
  }

  private static int bytesLength(ByteBuffer all, int offset, long elements) {
    int pos = offset;
    for (long i = 0; i < elements; i++) {
      int len = all.order(ByteOrder.LITTLE_ENDIAN).getInt(pos);
      pos += 4 + len;
    }
    return pos - offset;
  }
}
