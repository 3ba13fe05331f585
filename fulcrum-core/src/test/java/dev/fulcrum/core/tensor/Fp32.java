package dev.fulcrum.core.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * FP32 tensors in the core's tests: made from floats (little-endian, as the wire carries them) and
 * read back. Stateless.
 */
public final class Fp32 {
  private Fp32() {}

  /** An FP32 tensor of that shape holding {@code values}. */
  public static Tensor tensor(String name, long[] shape, float... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    return Tensor.of(name, DataType.FP32, shape, b.flip());
  }

  /** One row of {@code values}: shape [1, n]. */
  public static Tensor row(String name, float... values) {
    return tensor(name, new long[] {1, values.length}, values);
  }

  /** A tensor's elements, read as little-endian floats. */
  public static float[] floats(Tensor t) {
    ByteBuffer b = t.data().order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[b.remaining() / 4];
    for (int i = 0; i < out.length; i++) {
      out[i] = b.getFloat(i * 4);
    }
    return out;
  }
}
