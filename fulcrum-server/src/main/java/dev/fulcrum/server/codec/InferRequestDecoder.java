package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Decodes an OIP REST inference request body, with Triton's binary tensor data extension, into a
 * core {@link InferenceRequest}.
 *
 * <p>Body layout: a JSON header of {@code Inference-Header-Content-Length} bytes (the whole body
 * when the header is absent), then the binary inputs, in the order of the JSON {@code inputs} that
 * carry a {@code binary_data_size} parameter. {@code Inference-Header-Content-Length: 0} is the
 * "raw" form: the whole body is the single input of the model, batch 1.
 *
 * <p>Buffer ownership: the caller owns {@code body} and may release it as soon as {@link #decode}
 * returns. Every tensor gets its own direct little-endian {@link ByteBuffer}, filled by exactly one
 * copy (from the body slice for binary inputs, from the parsed JSON values otherwise); the tensors
 * own those buffers. Stateless and thread-safe.
 */
public final class InferRequestDecoder {
  private InferRequestDecoder() {}

  /** Request and output parameter that asks for binary outputs. */
  public static final String BINARY_DATA_OUTPUT = "binary_data_output";

  /** Output parameter that asks for (or declines) binary data for one output. */
  public static final String BINARY_DATA = "binary_data";

  /** Input/output parameter that gives the size of a tensor's binary data. */
  public static final String BINARY_DATA_SIZE = "binary_data_size";

  /**
   * Decodes one request.
   *
   * @param model the model named in the URL
   * @param version the version named in the URL, or ""
   * @param body the whole (decompressed) body; not retained
   * @param headerLength the {@code Inference-Header-Content-Length} header, or null
   * @param modelConfig looks up the model's configuration; only the raw form calls it
   * @throws InferenceException INVALID_ARGUMENT for a malformed request
   */
  public static DecodedInferRequest decode(
      String model,
      String version,
      ByteBuf body,
      @Nullable String headerLength,
      Supplier<ModelConfig> modelConfig) {
    int total = body.readableBytes();
    int jsonLength = total;
    if (headerLength != null) {
      try {
        jsonLength = Integer.parseInt(headerLength.trim());
      } catch (NumberFormatException e) {
        jsonLength = -1;
      }
      if (jsonLength < 0 || jsonLength > total) {
        throw InferenceException.invalid(
            "Inference-Header-Content-Length '%s' must be a number between 0 and the body size"
                + " %d",
            headerLength, total);
      }
      if (jsonLength == 0) {
        return decodeRaw(model, version, body, modelConfig.get());
      }
    }
    JsonNode root = parseHeader(model, body, jsonLength);
    if (!root.isObject()) {
      throw InferenceException.invalid(
          "model '%s': the request must be a JSON object, not %s", model, root.getNodeType());
    }
    String id = "";
    JsonNode idNode = root.get("id");
    if (idNode != null && !idNode.isNull()) {
      if (!idNode.isTextual()) {
        throw InferenceException.invalid("model '%s': 'id' must be a string", model);
      }
      id = idNode.textValue();
    }
    Map<String, Object> parameters = parameters("request", root.get("parameters"));
    boolean defaultBinary = Boolean.TRUE.equals(parameters.get(BINARY_DATA_OUTPUT));

    JsonNode inputsNode = root.get("inputs");
    if (inputsNode == null || !inputsNode.isArray() || inputsNode.isEmpty()) {
      throw InferenceException.invalid(
          "model '%s': the request needs a non-empty 'inputs' array", model);
    }
    int offset = body.readerIndex() + jsonLength;
    int end = body.readerIndex() + total;
    List<Tensor> inputs = new ArrayList<>(inputsNode.size());
    for (JsonNode in : inputsNode) {
      if (!in.isObject()) {
        throw InferenceException.invalid("model '%s': each input must be a JSON object", model);
      }
      String name = requiredText(model, in, "name", "an input");
      DataType type =
          datatype(model, name, requiredText(model, in, "datatype", "input '" + name + "'"));
      long[] shape = shape(model, name, in.get("shape"));
      Map<String, Object> p = parameters("input '" + name + "'", in.get("parameters"));
      rejectSharedMemory(name, p);
      Object size = p.get(BINARY_DATA_SIZE);
      JsonNode data = in.get("data");
      ByteBuffer bytes;
      if (size != null) {
        if (data != null) {
          throw InferenceException.invalid(
              "input '%s' has both 'data' and the parameter %s", name, BINARY_DATA_SIZE);
        }
        if (!(size instanceof Long n) || n < 0) {
          throw InferenceException.invalid(
              "input '%s': %s must be a non-negative integer, was %s",
              name, BINARY_DATA_SIZE, size);
        }
        if (n > end - offset) {
          throw InferenceException.invalid(
              "input '%s': %s is %d but only %d bytes of binary data are left in the body",
              name, BINARY_DATA_SIZE, n, end - offset);
        }
        bytes = copy(body, offset, (int) (long) n);
        offset += (int) (long) n;
      } else if (data != null) {
        bytes = TensorJson.read(name, type, shape, data);
      } else {
        throw InferenceException.invalid(
            "input '%s' has neither 'data' nor the parameter %s", name, BINARY_DATA_SIZE);
      }
      inputs.add(Tensor.of(name, type, shape, bytes));
    }
    if (offset != end) {
      throw InferenceException.invalid(
          "model '%s': the body has %d bytes of binary data after the JSON header but the"
              + " inputs' %s add up to %d",
          model,
          end - body.readerIndex() - jsonLength,
          BINARY_DATA_SIZE,
          offset - body.readerIndex() - jsonLength);
    }

    List<RequestedOutput> outputs = new ArrayList<>();
    Map<String, Boolean> binary = new HashMap<>();
    JsonNode outputsNode = root.get("outputs");
    if (outputsNode != null && !outputsNode.isNull()) {
      if (!outputsNode.isArray()) {
        throw InferenceException.invalid("model '%s': 'outputs' must be an array", model);
      }
      for (JsonNode out : outputsNode) {
        if (!out.isObject()) {
          throw InferenceException.invalid("model '%s': each output must be a JSON object", model);
        }
        String name = requiredText(model, out, "name", "an output");
        Map<String, Object> p = parameters("output '" + name + "'", out.get("parameters"));
        rejectSharedMemory(name, p);
        if (p.containsKey("classification")) {
          throw InferenceException.invalid(
              "output '%s': the classification extension is not supported", name);
        }
        Object b = p.get(BINARY_DATA);
        if (b != null) {
          if (!(b instanceof Boolean flag)) {
            throw InferenceException.invalid(
                "output '%s': parameter %s must be true or false", name, BINARY_DATA);
          }
          binary.put(name, flag);
        }
        outputs.add(new RequestedOutput(name, p));
      }
    }
    return new DecodedInferRequest(
        new InferenceRequest(
            model,
            version,
            id,
            parameters,
            inputs,
            outputs,
            RequestOptions.parse(model, parameters)),
        defaultBinary,
        binary);
  }

  private static JsonNode parseHeader(String model, ByteBuf body, int length) {
    try (ByteBufInputStream in =
        new ByteBufInputStream(body.slice(body.readerIndex(), length), false)) {
      JsonNode root = Json.MAPPER.readTree(in);
      if (root == null || root.isMissingNode()) {
        throw InferenceException.invalid("model '%s': the request body is empty", model);
      }
      return root;
    } catch (JacksonException e) {
      throw InferenceException.invalid(
          "model '%s': malformed JSON in the request: %s", model, e.getOriginalMessage());
    } catch (IOException e) {
      throw InferenceException.invalid(
          "model '%s': cannot read the request: %s", model, e.getMessage());
    }
  }

  /** The raw form: the whole body is the model's only input, batch 1; all outputs binary. */
  private static DecodedInferRequest decodeRaw(
      String model, String version, ByteBuf body, ModelConfig config) {
    if (config.inputs().size() != 1) {
      throw InferenceException.invalid(
          "model '%s' has %d inputs; a raw request (Inference-Header-Content-Length: 0) needs a"
              + " model with exactly one input",
          model, config.inputs().size());
    }
    TensorConfig in = config.inputs().get(0);
    long[] shape = config.batching() ? config.fullShape(in) : in.dims();
    if (config.batching()) {
      shape[0] = 1;
    }
    ByteBuffer bytes = copy(body, body.readerIndex(), body.readableBytes());
    long count;
    if (in.datatype().isFixedSize()) {
      count = bytes.remaining() / in.datatype().byteSize();
    } else {
      count = 0;
      ByteBuffer b = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
      while (b.remaining() >= 4) {
        int len = b.getInt();
        if (len < 0 || len > b.remaining()) {
          break;
        }
        b.position(b.position() + len);
        count++;
      }
    }
    int unknown = -1;
    long known = 1;
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] < 0) {
        if (unknown >= 0) {
          throw InferenceException.invalid(
              "model '%s': input '%s' has shape %s with more than one variable dimension, so a"
                  + " raw request cannot give its shape; send a JSON header",
              model, in.name(), Arrays.toString(config.fullShape(in)));
        }
        unknown = i;
      } else {
        try {
          known = Math.multiplyExact(known, shape[i]);
        } catch (ArithmeticException e) {
          throw InferenceException.invalid(
              "model '%s': input '%s' has a shape %s too large for any request",
              model, in.name(), Arrays.toString(config.fullShape(in)));
        }
      }
    }
    if (unknown >= 0) {
      shape[unknown] = known == 0 ? 0 : count / known;
    }
    Tensor t = Tensor.of(in.name(), in.datatype(), shape, bytes);
    return new DecodedInferRequest(
        new InferenceRequest(model, version, "", Map.of(), List.of(t), List.of()), true, Map.of());
  }

  private static ByteBuffer copy(ByteBuf body, int index, int length) {
    ByteBuffer b = ByteBuffer.allocateDirect(length).order(ByteOrder.LITTLE_ENDIAN);
    body.getBytes(index, b);
    return b.flip();
  }

  private static String requiredText(String model, JsonNode node, String field, String what) {
    JsonNode v = node.get(field);
    if (v == null || !v.isTextual() || v.textValue().isEmpty()) {
      throw InferenceException.invalid("model '%s': %s needs a string '%s'", model, what, field);
    }
    return v.textValue();
  }

  private static DataType datatype(String model, String tensor, String name) {
    Optional<DataType> t = DataType.fromProtocolName(name);
    return t.orElseThrow(
        () ->
            InferenceException.invalid(
                "model '%s': input '%s' has unknown datatype '%s'; known datatypes are %s",
                model, tensor, name, DataType.allNames()));
  }

  private static long[] shape(String model, String tensor, JsonNode node) {
    if (node == null || !node.isArray()) {
      throw InferenceException.invalid(
          "model '%s': input '%s' needs a 'shape' array of non-negative integers", model, tensor);
    }
    long[] s = new long[node.size()];
    for (int i = 0; i < s.length; i++) {
      JsonNode d = node.get(i);
      if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
        throw InferenceException.invalid(
            "model '%s': input '%s' has shape %s; dimensions must be non-negative integers",
            model, tensor, node);
      }
      s[i] = d.longValue();
    }
    return s;
  }

  private static Map<String, Object> parameters(String where, JsonNode node) {
    if (node == null || node.isNull()) {
      return Map.of();
    }
    if (!node.isObject()) {
      throw InferenceException.invalid("%s 'parameters' must be a JSON object", where);
    }
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      out.put(e.getKey(), TensorJson.parameterValue(where, e.getKey(), e.getValue()));
    }
    return out;
  }

  private static void rejectSharedMemory(String tensor, Map<String, Object> p) {
    if (p.containsKey("shared_memory_region")) {
      throw new InferenceException(
          dev.fulcrum.core.error.ErrorCode.INVALID_ARGUMENT,
          "tensor '" + tensor + "': the shared memory extensions are not supported");
    }
  }
}
