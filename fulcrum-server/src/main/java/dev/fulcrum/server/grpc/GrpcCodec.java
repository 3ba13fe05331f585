package dev.fulcrum.server.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.grpc.proto.InferParameter;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.shm.SharedMemoryOutput;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import dev.fulcrum.server.shm.SharedMemoryTensors;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
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
    if (r.getParametersCount() > 0 && r.containsParameters(MALFORMED)) {
      throw InferenceException.invalid("%s", r.getParametersOrThrow(MALFORMED).getStringParam());
    }
  }

  /**
   * A decoded request and how to encode its response.
   *
   * @param sharedMemoryOutputs the outputs asked into a shared memory region, by name (empty for a
   *     request that names none)
   */
  record Decoded(
      InferenceRequest request,
      boolean rawOutput,
      Map<String, SharedMemoryOutput> sharedMemoryOutputs) {}

  static Decoded decode(ModelInferRequest r, long deadlineMicros) {
    return decode(r, deadlineMicros, null);
  }

  /**
   * Decodes a request; with {@code sharedMemory}, an input whose parameters name a region is read
   * from it (it has no entry in {@code raw_input_contents}, as tritonclient sends it) and an output
   * that names one is resolved; without, such a tensor is refused.
   */
  static Decoded decode(
      ModelInferRequest r, long deadlineMicros, @Nullable SharedMemoryRegistry sharedMemory) {
    rejectMalformed(r);
    if (r.getModelName().isEmpty()) {
      throw modelNameRequired();
    }
    String model = r.getModelName();
    // A request, input or output without parameters (the common case) reads no protobuf map and
    // makes none: each map view, iterator and LinkedHashMap was allocated per request before.
    Map<String, Object> params =
        r.getParametersCount() == 0 ? Map.of() : parameters(r.getParametersMap(), "request");
    boolean raw = r.getRawInputContentsCount() > 0;
    int inShm = 0;
    for (int i = 0; i < r.getInputsCount(); i++) {
      ModelInferRequest.InferInputTensor in = r.getInputs(i);
      if (in.getParametersCount() > 0 && in.containsParameters(SharedMemoryTensors.REGION)) {
        inShm++;
      }
    }
    if (raw && r.getRawInputContentsCount() != r.getInputsCount() - inShm) {
      throw InferenceException.invalid(
          "model '%s': raw_input_contents has %d entries but the request has %d inputs%s; give one"
              + " entry per input, in the order of inputs",
          model,
          r.getRawInputContentsCount(),
          r.getInputsCount() - inShm,
          inShm == 0 ? "" : " not in shared memory");
    }
    List<Tensor> inputs = new ArrayList<>(r.getInputsCount());
    int rawIndex = 0;
    SharedMemoryTensors.Taken taken = inShm > 0 ? new SharedMemoryTensors.Taken() : null;
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
      if (taken != null && in.containsParameters(SharedMemoryTensors.REGION)) {
        inputs.add(sharedMemoryInput(in, type, shape, sharedMemory, taken));
      } else if (raw) {
        if (in.hasContents()) {
          throw InferenceException.invalid(
              "input '%s' has contents but the request also uses raw_input_contents; use one"
                  + " encoding for all inputs",
              name);
        }
        inputs.add(rawTensor(name, type, shape, r.getRawInputContents(rawIndex), rawIndex));
        rawIndex++;
      } else {
        inputs.add(TypedContents.read(name, type, shape, in.getContents()));
      }
    }
    List<RequestedOutput> outputs = new ArrayList<>(r.getOutputsCount());
    for (int i = 0; i < r.getOutputsCount(); i++) {
      ModelInferRequest.InferRequestedOutputTensor o = r.getOutputs(i);
      outputs.add(
          o.getParametersCount() == 0
              ? RequestedOutput.named(o.getName())
              : new RequestedOutput(
                  o.getName(), parameters(o.getParametersMap(), "output '" + o.getName() + "'")));
    }
    // A request whose every input is in shared memory has no encoding of its own: its outputs
    // come back raw, as Triton's always do (tritonclient reads raw_output_contents only).
    boolean rawOutput = raw || (inShm > 0 && inShm == r.getInputsCount());
    Object rawParam = params.isEmpty() ? null : params.remove(RAW_OUTPUT);
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
        if (params.isEmpty()) {
          params = Map.of(TIMEOUT, Math.max(1, deadlineMicros));
        } else {
          params.put(TIMEOUT, Math.max(1, deadlineMicros));
        }
        options = options.withTimeoutMicros(Math.max(1, deadlineMicros));
      }
    }
    InferenceRequest request =
        new InferenceRequest(
            model, r.getModelVersion(), r.getId(), params, inputs, outputs, options);
    return new Decoded(request, rawOutput, SharedMemoryOutput.placements(outputs, sharedMemory));
  }

  /** The refusal of a request that names no model. */
  static InferenceException modelNameRequired() {
    return InferenceException.invalid("model_name is required");
  }

  /** An input read from a shared memory region; it must carry no contents (Triton's rule). */
  private static Tensor sharedMemoryInput(
      ModelInferRequest.InferInputTensor in,
      DataType type,
      long[] shape,
      @Nullable SharedMemoryRegistry sharedMemory,
      SharedMemoryTensors.Taken taken) {
    String what = "input '" + in.getName() + "'";
    if (in.hasContents()) {
      throw InferenceException.invalid(
          "unexpected 'content' provided when using shared memory for input tensor '%s'",
          in.getName());
    }
    SharedMemoryRegistry registry = SharedMemoryTensors.requireRegistry(sharedMemory, what);
    Map<String, Object> p = parameters(in.getParametersMap(), what);
    return SharedMemoryTensors.input(
        in.getName(),
        type,
        shape,
        SharedMemoryTensors.placement(what, p, registry),
        registry,
        taken);
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

  /** Encodes a response: raw when asked, or when an output has no typed field (FP16/BF16). */
  static ModelInferResponse encode(InferenceResponse response, boolean rawOutput) {
    return encode(response, rawOutput, Map.of());
  }

  /**
   * As above, with the outputs placed in shared memory (written into their regions before the core
   * counted the request: {@link SharedMemoryOutput#delivery}): such an output carries its
   * placement's parameters and no data (an empty {@code raw_output_contents} entry, as Triton, so
   * that the entries stay in the order of the outputs).
   *
   * @throws InferenceException INVALID_ARGUMENT when an output does not fit its region
   */
  static ModelInferResponse encode(
      InferenceResponse response,
      boolean rawOutput,
      Map<String, SharedMemoryOutput> sharedMemoryOutputs) {
    boolean raw = rawOutput;
    List<Tensor> outputs = response.outputs();
    for (int i = 0; i < outputs.size(); i++) {
      raw |= outputs.get(i).datatype().isBinaryOnly();
    }
    ModelInferResponse.Builder b =
        ModelInferResponse.newBuilder()
            .setModelName(response.modelName())
            .setModelVersion(response.modelVersion())
            .setId(response.id());
    response.parameters().forEach((k, v) -> b.putParameters(k, parameter(v)));
    RequestTiming timing = response.timing();
    if (timing != null) {
      timing.parameters().forEach((k, v) -> b.putParameters(k, parameter(v)));
    }
    for (int i = 0; i < outputs.size(); i++) {
      Tensor t = outputs.get(i);
      ModelInferResponse.InferOutputTensor.Builder o =
          ModelInferResponse.InferOutputTensor.newBuilder()
              .setName(t.name())
              .setDatatype(t.datatype().name());
      for (int d = 0; d < t.rank(); d++) {
        o.addShape(t.dim(d)); // no copy of the shape, as t.shape() makes
      }
      SharedMemoryOutput placed =
          sharedMemoryOutputs.isEmpty() ? null : sharedMemoryOutputs.get(t.name());
      if (placed != null) {
        placed.responseParameters(t).forEach((k, v) -> o.putParameters(k, parameter(v)));
        if (raw) {
          b.addRawOutputContents(ByteString.EMPTY);
        }
      } else if (raw) {
        b.addRawOutputContents(UnsafeByteOperations.unsafeWrap(t.unsafeData()));
      } else {
        o.setContents(TypedContents.of(t));
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
}
