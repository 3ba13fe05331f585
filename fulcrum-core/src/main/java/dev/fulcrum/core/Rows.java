package dev.fulcrum.core;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/** Cuts a tensor into its rows (dimension 0) and joins rows back. Stateless. */
final class Rows {
  private Rows() {}

  /** Row {@code i} of a tensor, as a tensor of batch size 1. */
  static Tensor row(Tensor t, int i) {
    long[] shape = t.shape();
    shape[0] = 1;
    if (t.datatype() == DataType.BYTES) {
      long perRow = Shapes.elementCount(Shapes.dropFirst(shape));
      List<byte[]> all = t.bytesElements();
      return Tensor.ofBytes(
          t.name(), shape, all.subList((int) (i * perRow), (int) ((i + 1) * perRow)));
    }
    int rowBytes = Math.toIntExact(t.byteSize() / t.dim(0));
    ByteBuffer part = t.unsafeData().position(i * rowBytes).limit((i + 1) * rowBytes).slice();
    return Tensor.of(t.name(), t.datatype(), shape, part);
  }

  /** Joins tensors of the same name and type along dimension 0 (BYTES elements stay whole). */
  static Tensor concat(List<Tensor> parts) {
    Tensor first = parts.get(0);
    if (parts.size() == 1) {
      return first;
    }
    int bytes = 0;
    long rows = 0;
    for (Tensor p : parts) {
      bytes = Math.addExact(bytes, p.byteSize());
      rows += p.dim(0);
    }
    ByteBuffer b = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    for (Tensor p : parts) {
      b.put(p.data());
    }
    b.flip();
    long[] shape = first.shape();
    shape[0] = rows;
    return Tensor.of(first.name(), first.datatype(), shape, b);
  }
}
