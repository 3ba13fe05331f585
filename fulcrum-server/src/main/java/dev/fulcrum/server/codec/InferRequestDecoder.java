package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorBuffers;
import dev.fulcrum.server.shm.SharedMemoryOutput;
import dev.fulcrum.server.shm.SharedMemoryRegistry;
import dev.fulcrum.server.shm.SharedMemoryTensors;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
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
   * @param modelConfig looks up the model's configuration: the raw form calls it, and the JSON form
   *     when an input's data does not parse as the datatype the request gives it (to say so when
   *     the model declares another datatype); it may return null
   * @throws InferenceException INVALID_ARGUMENT for a malformed request
   */
  public static DecodedInferRequest decode(
      String model,
      String version,
      ByteBuf body,
      @Nullable String headerLength,
      Supplier<ModelConfig> modelConfig) {
    return decode(model, version, body, headerLength, modelConfig, TensorBuffers.UNSHARED);
  }

  /**
   * As above, the JSON inputs' buffers taken from {@code buffers} (a server's, {@link
   * TensorBuffers#shared}).
   */
  public static DecodedInferRequest decode(
      String model,
      String version,
      ByteBuf body,
      @Nullable String headerLength,
      Supplier<ModelConfig> modelConfig,
      TensorBuffers buffers) {
    return decode(model, version, body, headerLength, modelConfig, buffers, null);
  }

  /**
   * As above, with the server's shared memory regions: an input whose parameters name a region is
   * read from it, an output that names one is resolved for {@link
   * DecodedInferRequest#sharedMemoryOutputs()}; null: such a tensor is refused.
   */
  public static DecodedInferRequest decode(
      String model,
      String version,
      ByteBuf body,
      @Nullable String headerLength,
      Supplier<ModelConfig> modelConfig,
      TensorBuffers buffers,
      @Nullable SharedMemoryRegistry sharedMemory) {
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
    return decodeJson(model, version, body, jsonLength, modelConfig, buffers, sharedMemory);
  }

  /**
   * The JSON form, read with one streaming parser: each input's {@code data} goes straight into its
   * tensor's buffer ({@link JsonTensorReader}); only the small objects (parameters, outputs) and
   * the data of an input whose name, datatype or shape come after it are read as trees.
   */
  private static DecodedInferRequest decodeJson(
      String model,
      String version,
      ByteBuf body,
      int jsonLength,
      Supplier<ModelConfig> modelConfig,
      TensorBuffers buffers,
      @Nullable SharedMemoryRegistry sharedMemory) {
    int start = body.readerIndex();
    try (JsonParser p = parser(body, start, jsonLength)) {
      JsonToken first = p.nextToken();
      if (first == null) {
        throw InferenceException.invalid("model '%s': the request body is empty", model);
      }
      if (first != JsonToken.START_OBJECT) {
        JsonNode root = Json.tree(p);
        rejectTrailing(model, p);
        throw InferenceException.invalid(
            "model '%s': the request must be a JSON object, not %s", model, root.getNodeType());
      }
      // Problems are kept and thrown once the whole document has parsed, in the order a reader
      // of the whole tree would find them: malformed JSON first, then id, parameters, inputs.
      boolean badId = false;
      String id = "";
      StreamedParameters requestParameters = StreamedParameters.NONE;
      List<Tensor> inputs = null;
      InferenceException badInput = null;
      StreamedOutputs requestedOutputs = StreamedOutputs.NONE;
      Binary binary = new Binary(body, start + jsonLength, start + body.readableBytes());
      for (String field = p.nextFieldName(); field != null; field = p.nextFieldName()) {
        JsonToken t = p.nextToken();
        switch (field) {
          case "id" -> {
            if (t == JsonToken.VALUE_STRING) {
              id = p.getText();
            } else {
              badId = t != JsonToken.VALUE_NULL;
              p.skipChildren();
            }
          }
          case "parameters" -> requestParameters = StreamedParameters.read(p);
          case "inputs" -> {
            if (t != JsonToken.START_ARRAY) {
              p.skipChildren();
              continue;
            }
            inputs = new ArrayList<>(2);
            int depth = p.getParsingContext().getNestingDepth();
            while (p.nextToken() != JsonToken.END_ARRAY) {
              if (badInput != null) {
                p.skipChildren();
                continue;
              }
              try {
                inputs.add(input(model, p, binary, jsonLength, modelConfig, buffers, sharedMemory));
              } catch (InferenceException e) {
                badInput = e;
                while (p.getParsingContext().getNestingDepth() > depth) {
                  p.nextToken(); // to the end of the input that failed
                }
              }
            }
          }
          case "outputs" -> requestedOutputs = StreamedOutputs.read(p);
          default -> p.skipChildren();
        }
      }
      rejectTrailing(model, p);
      if (badId) {
        throw InferenceException.invalid("model '%s': 'id' must be a string", model);
      }
      Map<String, Object> parameters = requestParameters.values("request");
      if (badInput != null) {
        throw badInput;
      }
      if (inputs == null || inputs.isEmpty()) {
        throw needsInputs(model);
      }
      binary.checkAllUsed(model);
      boolean defaultBinary = Boolean.TRUE.equals(parameters.get(BINARY_DATA_OUTPUT));
      Map<String, Boolean> binaryOutputs = new HashMap<>();
      List<RequestedOutput> outputs = requestedOutputs.requested(model, binaryOutputs);
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
          binaryOutputs,
          SharedMemoryOutput.placements(outputs, sharedMemory));
    } catch (JacksonException e) {
      throw InferenceException.invalid(
          "model '%s': malformed JSON in the request: %s", model, e.getOriginalMessage());
    } catch (IOException e) {
      throw InferenceException.invalid(
          "model '%s': cannot read the request: %s", model, e.getMessage());
    }
  }

  private static JsonParser parser(ByteBuf body, int start, int length) throws IOException {
    if (body.hasArray()) {
      return JsonStreams.FACTORY.createParser(body.array(), body.arrayOffset() + start, length);
    }
    return JsonStreams.FACTORY.createParser(
        (InputStream) new ByteBufInputStream(body.slice(start, length), false));
  }

  /** The tree reader's check (DeserializationFeature.FAIL_ON_TRAILING_TOKENS), in plain words. */
  private static void rejectTrailing(String model, JsonParser p) throws IOException {
    JsonToken t = p.nextToken();
    if (t != null) {
      throw InferenceException.invalid(
          "model '%s': malformed JSON in the request: more JSON (%s) after the request's object"
              + " (line %d, column %d); send one object",
          model,
          t.asString() != null ? t.asString() : t.name().toLowerCase(Locale.ROOT),
          p.currentLocation().getLineNr(),
          p.currentLocation().getColumnNr());
    }
  }

  private static InferenceException needsInputs(String model) {
    return InferenceException.invalid(
        "model '%s': the request needs a non-empty 'inputs' array", model);
  }

  /**
   * Where the request's inputs take bytes from beyond the JSON: the binary section after the JSON
   * header, taken in the order of the inputs that use it, and shared memory regions, counted from
   * the first input that names one (a request that names none allocates nothing for them).
   */
  private static final class Binary {
    private final ByteBuf body;
    private final int start;
    private final int end;
    private int offset;
    private SharedMemoryTensors.@Nullable Taken sharedMemory;

    Binary(ByteBuf body, int start, int end) {
      this.body = body;
      this.start = start;
      this.end = end;
      this.offset = start;
    }

    ByteBuffer take(String name, Object size) {
      if (!(size instanceof Long n) || n < 0) {
        throw InferenceException.invalid(
            "input '%s': %s must be a non-negative integer, was %s", name, BINARY_DATA_SIZE, size);
      }
      if (n > end - offset) {
        throw InferenceException.invalid(
            "input '%s': %s is %d but only %d bytes of binary data are left in the body",
            name, BINARY_DATA_SIZE, n, end - offset);
      }
      ByteBuffer bytes = copy(body, offset, (int) (long) n);
      offset += (int) (long) n;
      return bytes;
    }

    /** What the inputs took from shared memory regions so far. */
    SharedMemoryTensors.Taken sharedMemoryTaken() {
      SharedMemoryTensors.Taken t = sharedMemory;
      if (t == null) {
        t = new SharedMemoryTensors.Taken();
        sharedMemory = t;
      }
      return t;
    }

    void checkAllUsed(String model) {
      if (offset != end) {
        throw InferenceException.invalid(
            "model '%s': the body has %d bytes of binary data after the JSON header but the"
                + " inputs' %s add up to %d",
            model, end - start, BINARY_DATA_SIZE, offset - start);
      }
    }
  }

  /**
   * The error for an input whose data did not parse as its datatype: when the model declares
   * another datatype for that input, that is the mistake to name (FP32 values sent as INT32 would
   * otherwise read "element 0 is 0.67, not an integer", which does not say what the model wants),
   * in the core validator's words ({@link TensorConfig#datatypeMismatch}); else the data's own
   * error. Only on the error path: a request that parses never looks the model up here.
   */
  private static InferenceException datatypeFirst(
      String model, Head h, Supplier<ModelConfig> modelConfig, InferenceException dataError) {
    ModelConfig config = modelConfig.get();
    if (config == null) {
      return dataError;
    }
    for (TensorConfig spec : config.inputs()) {
      if (spec.name().equals(h.name())) {
        InferenceException mismatch = spec.datatypeMismatch(model, h.type());
        return mismatch != null ? mismatch : dataError;
      }
    }
    return dataError;
  }

  /**
   * One input object, the parser at its first token (left at its last). Its fields are checked in
   * one order, whatever their order in the body: name, datatype, shape, parameters, then data.
   * {@code data} is streamed into the tensor's buffer when name, datatype and shape came before it
   * (as OIP clients write them), else kept as a tree and read once the object ends.
   */
  private static Tensor input(
      String model,
      JsonParser p,
      Binary binary,
      int jsonLength,
      Supplier<ModelConfig> modelConfig,
      TensorBuffers buffers,
      @Nullable SharedMemoryRegistry sharedMemory)
      throws IOException {
    if (p.currentToken() != JsonToken.START_OBJECT) {
      throw InferenceException.invalid("model '%s': each input must be a JSON object", model);
    }
    InputFields f = new InputFields();
    for (String field = p.nextFieldName(); field != null; field = p.nextFieldName()) {
      JsonToken t = p.nextToken();
      switch (field) {
        case "name" -> f.name = t == JsonToken.VALUE_STRING ? p.getText() : skipped(p);
        case "datatype" -> f.datatype = t == JsonToken.VALUE_STRING ? p.getText() : skipped(p);
        case "shape" -> f.shape = readShape(p);
        case "parameters" -> f.parameters = StreamedParameters.read(p);
        case "data" -> {
          f.hasData = true;
          if (f.name != null && f.datatype != null && f.shape != null) {
            Head h = f.head(model);
            try {
              f.data = JsonTensorReader.read(h.name(), h.type(), h.shape(), p, jsonLength, buffers);
            } catch (InferenceException e) {
              f.badData = e; // thrown after the fields that a reader checks before data
              p.skipChildren();
            }
          } else {
            f.tree = Json.tree(p);
          }
        }
        default -> p.skipChildren();
      }
    }
    Head h = f.head(model);
    Map<String, Object> parameters = f.parameters.values("input '" + h.name() + "'");
    Object size = parameters.get(BINARY_DATA_SIZE);
    if (SharedMemoryTensors.names(parameters)) {
      return sharedMemoryInput(h, parameters, f.hasData, size != null, sharedMemory, binary);
    }
    ByteBuffer bytes;
    if (size != null) {
      if (f.hasData) {
        throw bothDataAndSize(h.name());
      }
      bytes = binary.take(h.name(), size);
    } else if (f.badData != null) {
      throw datatypeFirst(model, h, modelConfig, f.badData);
    } else if (f.data != null) {
      bytes = f.data;
    } else if (f.tree != null) {
      try (JsonParser tp = f.tree.traverse(Json.STREAMING)) {
        tp.nextToken();
        bytes = JsonTensorReader.read(h.name(), h.type(), h.shape(), tp, jsonLength, buffers);
      } catch (InferenceException e) {
        throw datatypeFirst(model, h, modelConfig, e);
      }
    } else {
      throw InferenceException.invalid(
          "input '%s' has neither 'data' nor the parameter %s", h.name(), BINARY_DATA_SIZE);
    }
    return Tensor.of(h.name(), h.type(), h.shape(), bytes);
  }

  /**
   * An input read from a shared memory region: it must carry neither data nor binary data (Triton's
   * rule and words).
   */
  private static Tensor sharedMemoryInput(
      Head h,
      Map<String, Object> parameters,
      boolean hasData,
      boolean hasBinary,
      @Nullable SharedMemoryRegistry sharedMemory,
      Binary binary) {
    String what = "input '" + h.name() + "'";
    if (hasData || hasBinary) {
      throw InferenceException.invalid(
          "%s: Input must set only one of the following fields: 'data', '%s' in 'parameters',"
              + " '%s' in 'parameters'. But set%s%s '%s'",
          what,
          BINARY_DATA_SIZE,
          SharedMemoryTensors.REGION,
          hasData ? " 'data'" : "",
          hasBinary ? " '" + BINARY_DATA_SIZE + "'" : "",
          SharedMemoryTensors.REGION);
    }
    SharedMemoryRegistry registry = SharedMemoryTensors.requireRegistry(sharedMemory, what);
    return SharedMemoryTensors.input(
        h.name(),
        h.type(),
        h.shape(),
        SharedMemoryTensors.placement(what, parameters, registry),
        registry,
        binary.sharedMemoryTaken());
  }

  private static InferenceException bothDataAndSize(String name) {
    return InferenceException.invalid(
        "input '%s' has both 'data' and the parameter %s", name, BINARY_DATA_SIZE);
  }

  /** Skips a value that should have been a string; its field then counts as missing. */
  private static @Nullable String skipped(JsonParser p) throws IOException {
    p.skipChildren();
    return null;
  }

  /** An input's fields as read so far; {@link #head} checks the first three, once. */
  private static final class InputFields {
    @Nullable String name;
    @Nullable String datatype;
    @Nullable Object shape; // long[], or the JsonNode that is not a valid shape
    StreamedParameters parameters = StreamedParameters.NONE;
    boolean hasData;
    @Nullable ByteBuffer data;
    @Nullable InferenceException badData;
    @Nullable JsonNode tree;
    @Nullable Head head;

    Head head(String model) {
      Head h = head;
      if (h == null) {
        String n = name;
        if (n == null || n.isEmpty()) {
          throw InferenceException.invalid("model '%s': an input needs a string 'name'", model);
        }
        String d = datatype;
        if (d == null || d.isEmpty()) {
          throw InferenceException.invalid(
              "model '%s': input '%s' needs a string 'datatype'", model, n);
        }
        DataType type = datatype(model, n, d);
        long[] s = shape instanceof long[] dims ? dims : shape(model, n, (JsonNode) shape);
        h = new Head(n, type, s);
        head = h;
      }
      return h;
    }
  }

  private record Head(String name, DataType type, long[] shape) {}

  /** A shape array as longs, or (only when it is not one) the value as a tree for the message. */
  private static Object readShape(JsonParser p) throws IOException {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      return Json.tree(p);
    }
    long[] s = new long[4];
    int n = 0;
    for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
      if (t != JsonToken.VALUE_NUMBER_INT
          || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER
          || p.getLongValue() < 0) {
        ArrayNode bad = Json.STREAMING.createArrayNode();
        for (int i = 0; i < n; i++) {
          bad.add(s[i]);
        }
        bad.add(Json.tree(p));
        for (t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
          bad.add(Json.tree(p));
        }
        return bad;
      }
      if (n == s.length) {
        s = Arrays.copyOf(s, n * 2);
      }
      s[n++] = p.getLongValue();
    }
    return Arrays.copyOf(s, n);
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

  private static DataType datatype(String model, String tensor, String name) {
    Optional<DataType> t = DataType.fromProtocolName(name);
    return t.orElseThrow(
        () ->
            InferenceException.invalid(
                "model '%s': input '%s' has unknown datatype '%s'; known datatypes are %s",
                model, tensor, name, DataType.allNames()));
  }

  private static long[] shape(String model, String tensor, @Nullable JsonNode node) {
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
}
