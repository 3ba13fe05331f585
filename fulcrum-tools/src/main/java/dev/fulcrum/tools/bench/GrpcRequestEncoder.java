package dev.fulcrum.tools.bench;

import com.google.protobuf.ByteString;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Encodes a sample as an OIP gRPC {@link ModelInferRequest}, with the tensors in {@code
 * raw_input_contents} (little-endian bytes, BYTES elements u32-LE-length-prefixed: the core's own
 * layout) or in typed {@code contents}; stateless, thread-safe.
 */
final class GrpcRequestEncoder {
  private GrpcRequestEncoder() {}

  static ModelInferRequest encode(
      Sample sample, String model, String version, List<String> outputs, boolean raw) {
    ModelInferRequest.Builder b =
        ModelInferRequest.newBuilder().setModelName(model).setModelVersion(version);
    for (Tensor t : sample.inputs()) {
      ModelInferRequest.InferInputTensor.Builder in =
          ModelInferRequest.InferInputTensor.newBuilder()
              .setName(t.name())
              .setDatatype(t.datatype().name());
      for (long d : t.shape()) {
        in.addShape(d);
      }
      if (raw) {
        b.addRawInputContents(ByteString.copyFrom(t.data()));
      } else {
        in.setContents(typed(t));
      }
      b.addInputs(in);
    }
    for (String o : outputs) {
      b.addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName(o));
    }
    return b.build();
  }

  /** The tensor's values in the one typed field that the datatype uses. */
  static InferTensorContents typed(Tensor t) {
    DataType type = t.datatype();
    if (type.isBinaryOnly()) {
      throw new IllegalArgumentException(
          t.name() + " is " + type + ", which has no typed gRPC field; use --grpc-contents raw");
    }
    InferTensorContents.Builder c = InferTensorContents.newBuilder();
    if (type == DataType.BYTES) {
      t.bytesElements().forEach(e -> c.addBytesContents(ByteString.copyFrom(e)));
      return c.build();
    }
    ByteBuffer b = t.data();
    while (b.hasRemaining()) {
      switch (type) {
        case BOOL -> c.addBoolContents(b.get() != 0);
        case INT8 -> c.addIntContents(b.get());
        case INT16 -> c.addIntContents(b.getShort());
        case INT32 -> c.addIntContents(b.getInt());
        case UINT8 -> c.addUintContents(Byte.toUnsignedInt(b.get()));
        case UINT16 -> c.addUintContents(Short.toUnsignedInt(b.getShort()));
        case UINT32 -> c.addUintContents(b.getInt());
        case INT64 -> c.addInt64Contents(b.getLong());
        case UINT64 -> c.addUint64Contents(b.getLong());
        case FP32 -> c.addFp32Contents(b.getFloat());
        case FP64 -> c.addFp64Contents(b.getDouble());
        default -> throw new AssertionError(type);
      }
    }
    return c.build();
  }
}
