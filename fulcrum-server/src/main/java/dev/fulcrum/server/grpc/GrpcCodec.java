package dev.fulcrum.server.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.grpc.proto.InferParameter;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Converts between the protocol's {@code ModelInferRequest}/{@code ModelInferResponse} and the
 * core's request and response, in both tensor encodings: typed {@code contents} and {@code
 * raw_input_contents}/{@code raw_output_contents}.
 *
 * <p>Buffer ownership: every input tensor gets its own direct little-endian buffer filled by one
 * copy (from the raw {@link ByteString}, or from the typed values); the tensor owns it and the
 * request message may be dropped as soon as {@link #decode} returns. Raw outputs are not copied:
 * the response wraps each output tensor's buffer ({@link UnsafeByteOperations#unsafeWrap}), which
 * is safe because a tensor's buffer is never written after construction. Stateless, thread-safe.
 */
final class GrpcCodec {
  private GrpcCodec() {}

  /**
   * Request parameter (bool) choosing the output encoding: true asks for {@code
   * raw_output_contents}, false for typed {@code contents}. Without it, outputs use the encoding of
   * the request's inputs. FP16 and BF16 outputs have no typed field, so a response holding one is
   * always raw.
   */
  static final String RAW_OUTPUT = "raw_output";

  /** The core's request parameter for the request's timeout, in microseconds. */
  static final String TIMEOUT = RequestOptions.TIMEOUT;

  /**
   * The request parameter that marks a stand-in for a stream message that was not valid protobuf
   * ({@link StrictParsing}); its string value is the parse failure. A client that sets it gets
   * INVALID_ARGUMENT with its own text.
   */
  static final String MALFORMED = "fulcrum_malformed_message";

  /** The stand-in request for a stream message whose bytes did not parse. */
  static ModelInferRequest malformed(String description) {
    return ModelInferRequest.newBuilder()
        .putParameters(MALFORMED, InferParameter.newBuilder().setStringParam(description).build())
        .build();
  }

  /**
   * Refuses a stand-in made by {@link #malformed}, before anything else looks at the request.
   *
   * @throws InferenceException INVALID_ARGUMENT with the parse failure
   */
  static void rejectMalformed(ModelInferRequest r) {
    InferParameter p = r.getParametersMap().get(MALFORMED);
    if (p != null) {
      throw InferenceException.invalid("%s", p.getStringParam());
    }
  }

  /** A decoded request and how to encode its response. */
  record Decoded(InferenceRequest request, boolean rawOutput) {}

  static Decoded decode(ModelInferRequest r, long deadlineMicros) {
    rejectMalformed(r);
    if (r.getModelName().isEmpty()) {
      throw InferenceException.invalid("model_name is required");
    }
    String model = r.getModelName();
    Map<String, Object> params = parameters(r.getParametersMap(), "request");
    boolean raw = r.getRawInputContentsCount() > 0;
    if (raw && r.getRawInputContentsCount() != r.getInputsCount()) {
      throw InferenceException.invalid(
          "model '%s': raw_input_contents has %d entries but the request has %d inputs; give one"
              + " entry per input, in the order of inputs",
          model, r.getRawInputContentsCount(), r.getInputsCount());
    }
    List<Tensor> inputs = new ArrayList<>(r.getInputsCount());
    for (int i = 0; i < r.getInputsCount(); i++) {
      ModelInferRequest.InferInputTensor in = r.getInputs(i);
      String name = in.getName();
      DataType type =
          DataType.fromProtocolName(in.getDatatype())
              .orElseThrow(
                  () ->
                      InferenceException.invalid(
                          "input '%s': unknown datatype '%s'; expected one of %s",
                          name, in.getDatatype(), DataType.allNames()));
      long[] shape = new long[in.getShapeCount()];
      for (int d = 0; d < shape.length; d++) {
        shape[d] = in.getShape(d);
      }
      if (raw) {
        if (in.hasContents()) {
          throw InferenceException.invalid(
              "input '%s' has contents but the request also uses raw_input_contents; use one"
                  + " encoding for all inputs",
              name);
        }
        inputs.add(rawTensor(name, type, shape, r.getRawInputContents(i), i));
      } else {
        inputs.add(typedTensor(name, type, shape, in.getContents()));
      }
    }
    List<RequestedOutput> outputs = new ArrayList<>(r.getOutputsCount());
    for (ModelInferRequest.InferRequestedOutputTensor o : r.getOutputsList()) {
      outputs.add(
          new RequestedOutput(
              o.getName(), parameters(o.getParametersMap(), "output '" + o.getName() + "'")));
    }
    boolean rawOutput = raw;
    Object rawParam = params.remove(RAW_OUTPUT);
    if (rawParam != null) {
      if (!(rawParam instanceof Boolean b)) {
        throw InferenceException.invalid(
            "request parameter '%s' must be a bool (bool_param)", RAW_OUTPUT);
      }
      rawOutput = b;
    }
    // Parsed before the deadline may replace the timeout, so that gRPC refuses a bad one as REST.
    RequestOptions options = RequestOptions.parse(model, params);
    if (deadlineMicros >= 0) {
      long t = options.timeoutMicros();
      if (t == 0 || t > deadlineMicros) {
        params.put(TIMEOUT, Math.max(1, deadlineMicros));
        options = options.withTimeoutMicros(Math.max(1, deadlineMicros));
      }
    }
    InferenceRequest request =
        new InferenceRequest(
            model, r.getModelVersion(), r.getId(), params, inputs, outputs, options);
    return new Decoded(request, rawOutput);
  }

  private static Map<String, Object> parameters(Map<String, InferParameter> in, String where) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<String, InferParameter> e : in.entrySet()) {
      InferParameter p = e.getValue();
      Object v =
          switch (p.getParameterChoiceCase()) {
            case BOOL_PARAM -> p.getBoolParam();
            case INT64_PARAM -> p.getInt64Param();
            case STRING_PARAM -> p.getStringParam();
            case DOUBLE_PARAM -> p.getDoubleParam();
            case UINT64_PARAM -> {
              if (p.getUint64Param() < 0) {
                throw InferenceException.invalid(
                    "%s parameter '%s': uint64_param %s is larger than the largest int64",
                    where, e.getKey(), Long.toUnsignedString(p.getUint64Param()));
              }
              yield p.getUint64Param();
            }
            case PARAMETERCHOICE_NOT_SET ->
                throw InferenceException.invalid(
                    "%s parameter '%s' has no value", where, e.getKey());
          };
      out.put(e.getKey(), v);
    }
    return out;
  }

  private static Tensor rawTensor(
      String name, DataType type, long[] shape, ByteString bytes, int index) {
    ByteBuffer b = ByteBuffer.allocateDirect(bytes.size()).order(ByteOrder.LITTLE_ENDIAN);
    bytes.copyTo(b);
    b.flip();
    try {
      return Tensor.of(name, type, shape, b);
    } catch (InferenceException e) {
      throw InferenceException.invalid("raw_input_contents[%d]: %s", index, e.getMessage());
    }
  }

  /** The typed field each datatype travels in, or null for FP16/BF16, which have none. */
  static @Nullable String field(DataType t) {
    return switch (t) {
      case BOOL -> "bool_contents";
      case INT8, INT16, INT32 -> "int_contents";
      case INT64 -> "int64_contents";
      case UINT8, UINT16, UINT32 -> "uint_contents";
      case UINT64 -> "uint64_contents";
      case FP32 -> "fp32_contents";
      case FP64 -> "fp64_contents";
      case BYTES -> "bytes_contents";
      case FP16, BF16 -> null;
    };
  }

  private static Map<String, Integer> counts(InferTensorContents c) {
    Map<String, Integer> m = new LinkedHashMap<>();
    m.put("bool_contents", c.getBoolContentsCount());
    m.put("int_contents", c.getIntContentsCount());
    m.put("int64_contents", c.getInt64ContentsCount());
    m.put("uint_contents", c.getUintContentsCount());
    m.put("uint64_contents", c.getUint64ContentsCount());
    m.put("fp32_contents", c.getFp32ContentsCount());
    m.put("fp64_contents", c.getFp64ContentsCount());
    m.put("bytes_contents", c.getBytesContentsCount());
    return m;
  }

  private static Tensor typedTensor(
      String name, DataType type, long[] shape, InferTensorContents c) {
    String field = field(type);
    if (field == null) {
      throw InferenceException.invalid(
          "input '%s' is %s, which has no typed contents field; send it in raw_input_contents",
          name, type);
    }
    for (Map.Entry<String, Integer> e : counts(c).entrySet()) {
      if (e.getValue() > 0 && !e.getKey().equals(field)) {
        throw InferenceException.invalid(
            "input '%s' is %s, so its values go in contents.%s, but contents.%s is set",
            name, type, field, e.getKey());
      }
    }
    long count;
    try {
      count = Shapes.elementCount(shape);
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw InferenceException.invalid(
          "input '%s' has an invalid shape %s", name, Arrays.toString(shape));
    }
    Integer counted = counts(c).get(field);
    int given = counted == null ? 0 : counted;
    if (given != count) {
      throw InferenceException.invalid(
          "input '%s' (%s, shape %s) needs %d values in contents.%s but has %d",
          name, type, Arrays.toString(shape), count, field, given);
    }
    int n = given;
    ByteBuffer b;
    if (type == DataType.BYTES) {
      if (n > Tensor.MAX_BYTES_ELEMENTS) {
        throw Tensor.tooManyBytesElements(name, shape, n);
      }
      long size = 0;
      for (ByteString s : c.getBytesContentsList()) {
        size += 4 + s.size();
      }
      if (size > Integer.MAX_VALUE - 8) {
        throw InferenceException.invalid("input '%s' is larger than 2 GiB", name);
      }
      b = ByteBuffer.allocateDirect((int) size).order(ByteOrder.LITTLE_ENDIAN);
      for (ByteString s : c.getBytesContentsList()) {
        b.putInt(s.size());
        s.copyTo(b);
      }
    } else {
      long bytes = Tensor.sizeInBytes(name, type, shape, n);
      if (bytes > Integer.MAX_VALUE - 8) {
        throw InferenceException.invalid("input '%s' is larger than 2 GiB", name);
      }
      b = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < n; i++) {
        switch (type) {
          case BOOL -> b.put((byte) (c.getBoolContents(i) ? 1 : 0));
          case INT8 -> b.put((byte) checked(name, field, i, c.getIntContents(i), -128, 127, type));
          case INT16 ->
              b.putShort((short) checked(name, field, i, c.getIntContents(i), -32768, 32767, type));
          case INT32 -> b.putInt(c.getIntContents(i));
          case INT64 -> b.putLong(c.getInt64Contents(i));
          case UINT8 ->
              b.put(
                  (byte)
                      checked(
                          name,
                          field,
                          i,
                          Integer.toUnsignedLong(c.getUintContents(i)),
                          0,
                          255,
                          type));
          case UINT16 ->
              b.putShort(
                  (short)
                      checked(
                          name,
                          field,
                          i,
                          Integer.toUnsignedLong(c.getUintContents(i)),
                          0,
                          65535,
                          type));
          case UINT32 -> b.putInt(c.getUintContents(i));
          case UINT64 -> b.putLong(c.getUint64Contents(i));
          case FP32 -> b.putFloat(c.getFp32Contents(i));
          case FP64 -> b.putDouble(c.getFp64Contents(i));
          default -> throw new IllegalStateException("unexpected " + type);
        }
      }
    }
    b.flip();
    return Tensor.of(name, type, shape, b);
  }

  private static long checked(
      String name, String field, int i, long v, long min, long max, DataType type) {
    if (v < min || v > max) {
      throw InferenceException.invalid(
          "input '%s': contents.%s[%d] = %d is out of range for %s", name, field, i, v, type);
    }
    return v;
  }

  /** Encodes a response: raw when asked, or when an output has no typed field (FP16/BF16). */
  static ModelInferResponse encode(InferenceResponse response, boolean rawOutput) {
    boolean raw = rawOutput;
    for (Tensor t : response.outputs()) {
      raw |= t.datatype().isBinaryOnly();
    }
    ModelInferResponse.Builder b =
        ModelInferResponse.newBuilder()
            .setModelName(response.modelName())
            .setModelVersion(response.modelVersion())
            .setId(response.id());
    response.parameters().forEach((k, v) -> b.putParameters(k, parameter(v)));
    for (Tensor t : response.outputs()) {
      ModelInferResponse.InferOutputTensor.Builder o =
          ModelInferResponse.InferOutputTensor.newBuilder()
              .setName(t.name())
              .setDatatype(t.datatype().name());
      for (long d : t.shape()) {
        o.addShape(d);
      }
      if (raw) {
        b.addRawOutputContents(UnsafeByteOperations.unsafeWrap(t.unsafeData()));
      } else {
        o.setContents(contents(t));
      }
      b.addOutputs(o);
    }
    return b.build();
  }

  private static InferParameter parameter(Object v) {
    InferParameter.Builder p = InferParameter.newBuilder();
    switch (v) {
      case Boolean x -> p.setBoolParam(x);
      case Long x -> p.setInt64Param(x);
      case Integer x -> p.setInt64Param(x);
      case Double x -> p.setDoubleParam(x);
      default -> p.setStringParam(String.valueOf(v));
    }
    return p.build();
  }

  private static InferTensorContents contents(Tensor t) {
    InferTensorContents.Builder c = InferTensorContents.newBuilder();
    ByteBuffer d = t.data();
    switch (t.datatype()) {
      case BOOL -> {
        while (d.hasRemaining()) {
          c.addBoolContents(d.get() != 0);
        }
      }
      case INT8 -> {
        while (d.hasRemaining()) {
          c.addIntContents(d.get());
        }
      }
      case INT16 -> {
        while (d.hasRemaining()) {
          c.addIntContents(d.getShort());
        }
      }
      case INT32 -> {
        while (d.hasRemaining()) {
          c.addIntContents(d.getInt());
        }
      }
      case INT64 -> {
        while (d.hasRemaining()) {
          c.addInt64Contents(d.getLong());
        }
      }
      case UINT8 -> {
        while (d.hasRemaining()) {
          c.addUintContents(Byte.toUnsignedInt(d.get()));
        }
      }
      case UINT16 -> {
        while (d.hasRemaining()) {
          c.addUintContents(Short.toUnsignedInt(d.getShort()));
        }
      }
      case UINT32 -> {
        while (d.hasRemaining()) {
          c.addUintContents(d.getInt());
        }
      }
      case UINT64 -> {
        while (d.hasRemaining()) {
          c.addUint64Contents(d.getLong());
        }
      }
      case FP32 -> {
        while (d.hasRemaining()) {
          c.addFp32Contents(d.getFloat());
        }
      }
      case FP64 -> {
        while (d.hasRemaining()) {
          c.addFp64Contents(d.getDouble());
        }
      }
      case BYTES -> {
        for (byte[] e : t.bytesElements()) {
          c.addBytesContents(UnsafeByteOperations.unsafeWrap(e));
        }
      }
      case FP16, BF16 -> throw new IllegalStateException(t + " has no typed contents field");
    }
    return c.build();
  }
}
