package dev.fulcrum.tools.bench;

import com.google.protobuf.ByteString;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.grpc.TypedContents;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
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
    if (t.datatype().isBinaryOnly()) {
      throw new IllegalArgumentException(
          t.name()
              + " is "
              + t.datatype()
              + ", which has no typed gRPC field; use --grpc-contents raw");
    }
    return TypedContents.of(t);
  }
}
