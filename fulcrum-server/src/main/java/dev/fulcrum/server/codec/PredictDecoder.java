package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.RequestOptions;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorBuffers;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Decodes a TensorFlow Serving (and KServe v1) REST predict body, {@code POST
 * /v1/models/<m>[/versions/<v>]:predict}, into the core's {@link InferenceRequest}, with one
 * streaming parser and no tree: each value is written straight into its input's growing buffer.
 *
 * <p>The two formats of TF Serving's REST API. <b>Row</b> ({@code "instances": [...]}): a list of
 * rows, each a bare value (nested lists, a scalar or {@code {"b64": "..."}}) for a model of one
 * input, or an object naming each input ({@code {"<input>": value, ...}}); every row names the same
 * inputs, and each input's value has the same shape in every row; the input's tensor is {@code
 * [rows] + that shape}. <b>Columnar</b> ({@code "inputs": ...}): one value for a model of one
 * input, or an object of input name to value; each value is its whole tensor (its shape is the
 * nesting's, every level rectangular). {@code "signature_name"} may be absent or {@code
 * "serving_default"}, the one signature a Fulcrum model has. Element types are the model's (its
 * configuration's inputs): FP32/FP64 take numbers and the strings {@code "NaN"}, {@code
 * "Infinity"}, {@code "-Infinity"} (the core's RequestValidator refuses them unless the input
 * allows non-finite values, as for OIP), integers integral numbers within the type's range, BOOL
 * {@code true}/{@code false}, BYTES strings (UTF-8) or {@code {"b64": "<base64>"}}.
 *
 * <p>Stateless and thread-safe; each call reads on the calling thread.
 */
public final class PredictDecoder {
  private PredictDecoder() {}

  /** The one signature a Fulcrum model has, as TF Serving names its default. */
  public static final String DEFAULT_SIGNATURE = "serving_default";

  private static final BigInteger UINT64_MAX =
      BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

  /**
   * A decoded predict request.
   *
   * @param request the request for the core
   * @param rows whether it came in the row format ({@code instances}): answered as {@code
   *     predictions}, else ({@code inputs}) as {@code outputs}
   * @param instances the number of rows (0 in the columnar format)
   */
  public record PredictRequest(InferenceRequest request, boolean rows, int instances) {}

  /**
   * Decodes one body.
   *
   * @param model the model named in the path
   * @param version the version named in the path, or ""
   * @param config the model's configuration as served: its inputs' names and types
   * @throws InferenceException INVALID_ARGUMENT for a malformed body, an unknown input, a value of
   *     the wrong type, rows of different shapes
   */
  public static PredictRequest decode(
      String model, String version, ModelConfig config, ByteBuf body, TensorBuffers buffers) {
    try (JsonParser p = parser(body)) {
      JsonToken first = p.nextToken();
      if (first != JsonToken.START_OBJECT) {
        throw InferenceException.invalid(
            "model '%s': the request must be a JSON object with 'instances' (row format) or"
                + " 'inputs' (columnar format)",
            model);
      }
      Map<String, Column> columns = null;
      boolean rows = false;
      int instances = 0;
      for (String field = p.nextFieldName(); field != null; field = p.nextFieldName()) {
        JsonToken t = p.nextToken();
        switch (field) {
          case "signature_name" -> {
            if (t != JsonToken.VALUE_STRING) {
              throw InferenceException.invalid(
                  "model '%s': 'signature_name' must be a string", model);
            }
            String s = p.getText();
            if (!s.isEmpty() && !s.equals(DEFAULT_SIGNATURE)) {
              throw InferenceException.invalid(
                  "model '%s' has no signature '%s': its one signature is '%s'",
                  model, cut(s), DEFAULT_SIGNATURE);
            }
          }
          case "instances", "inputs" -> {
            if (columns != null) {
              throw InferenceException.invalid(
                  "model '%s': the request has both 'instances' and 'inputs'; send one: rows"
                      + " ('instances') or columns ('inputs')",
                  model);
            }
            Reader r = new Reader(model, config, p);
            rows = field.equals("instances");
            if (rows) {
              instances = r.rows();
            } else {
              r.columns();
            }
            columns = r.columns;
          }
          default -> p.skipChildren(); // another field (KServe's "parameters", ...): not ours
        }
      }
      if (p.nextToken() != null) {
        throw InferenceException.invalid(
            "model '%s': malformed JSON in the request: more JSON after the request's object",
            model);
      }
      if (columns == null) {
        throw InferenceException.invalid(
            "model '%s': the request needs 'instances' (row format: a list of rows) or 'inputs'"
                + " (columnar format)",
            model);
      }
      List<Tensor> inputs = new ArrayList<>(columns.size());
      for (Column c : columns.values()) {
        inputs.add(c.tensor(rows ? instances : -1, buffers));
      }
      return new PredictRequest(
          new InferenceRequest(
              model,
              version,
              "",
              Map.of(),
              inputs,
              List.of(),
              RequestOptions.parse(model, Map.of())),
          rows,
          instances);
    } catch (JacksonException e) {
      throw InferenceException.invalid(
          "model '%s': malformed JSON in the request: %s", model, e.getOriginalMessage());
    } catch (IOException e) {
      throw InferenceException.invalid(
          "model '%s': cannot read the request: %s", model, e.getMessage());
    }
  }

  private static JsonParser parser(ByteBuf body) throws IOException {
    int start = body.readerIndex();
    int length = body.readableBytes();
    if (body.hasArray()) {
      return JsonStreams.FACTORY.createParser(body.array(), body.arrayOffset() + start, length);
    }
    return JsonStreams.FACTORY.createParser(
        (InputStream) new ByteBufInputStream(body.slice(start, length), false));
  }

  /** Reads {@code instances} or {@code inputs} into one column per input. */
  private static final class Reader {
    private final String model;
    private final ModelConfig config;
    private final JsonParser p;
    final Map<String, Column> columns = new LinkedHashMap<>();

    Reader(String model, ModelConfig config, JsonParser p) {
      this.model = model;
      this.config = config;
      this.p = p;
    }

    /** The row format, the parser at the list's first token; returns the number of rows. */
    int rows() throws IOException {
      if (p.currentToken() != JsonToken.START_ARRAY) {
        throw InferenceException.invalid(
            "model '%s': 'instances' must be a list of rows, one per instance", model);
      }
      int row = 0;
      List<String> firstNames = null;
      for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken(), row++) {
        JsonToken field = t == JsonToken.START_OBJECT ? p.nextToken() : null;
        if (field != null && !isBinaryValue(field)) {
          List<String> names = new ArrayList<>(4);
          for (JsonToken f = field; f != JsonToken.END_OBJECT; f = p.nextToken()) {
            String name = p.currentName();
            p.nextToken();
            names.add(name);
            column(name, row).add(row);
          }
          if (firstNames == null) {
            if (names.isEmpty()) {
              throw InferenceException.invalid(
                  "model '%s': instance 0 is an empty object; name the model's inputs %s",
                  model, inputNames());
            }
            firstNames = names;
          } else if (!sameNames(firstNames, names)) {
            throw InferenceException.invalid(
                "model '%s': instance %d names the inputs %s but instance 0 names %s; every"
                    + " instance names the same inputs",
                model, row, names, firstNames);
          }
          continue;
        }
        if (firstNames != null) {
          throw InferenceException.invalid(
              "model '%s': instance %d is a bare value but instance 0 is an object of named"
                  + " inputs; every instance has the same form",
              model, row);
        }
        Column c = onlyInput(row);
        if (field != null) {
          c.addBinary(row); // {"b64": ...}, the parser at its field name
        } else {
          c.add(row);
        }
      }
      if (row == 0) {
        throw InferenceException.invalid(
            "model '%s': 'instances' is empty; send at least one row", model);
      }
      return row;
    }

    /** The columnar format, the parser at the value's first token. */
    void columns() throws IOException {
      JsonToken field = p.currentToken() == JsonToken.START_OBJECT ? p.nextToken() : null;
      if (field != null && !isBinaryValue(field)) {
        if (field == JsonToken.END_OBJECT) {
          throw InferenceException.invalid(
              "model '%s': 'inputs' is an empty object; name the model's inputs %s",
              model, inputNames());
        }
        for (JsonToken f = field; f != JsonToken.END_OBJECT; f = p.nextToken()) {
          String name = p.currentName();
          p.nextToken();
          column(name, -1).add(-1);
        }
        return;
      }
      Column c = onlyInput(-1);
      if (field != null) {
        c.addBinary(-1);
      } else {
        c.add(-1);
      }
    }

    /**
     * Whether an object whose first token (a field name, or its end) is {@code first} is a binary
     * value {@code {"b64": "..."}} rather than named inputs: its first field is {@code b64} and the
     * model has no input of that name.
     */
    private boolean isBinaryValue(JsonToken first) throws IOException {
      return first == JsonToken.FIELD_NAME && "b64".equals(p.currentName()) && !hasInput("b64");
    }

    private boolean hasInput(String name) {
      for (TensorConfig in : config.inputs()) {
        if (in.name().equals(name)) {
          return true;
        }
      }
      return false;
    }

    private List<String> inputNames() {
      List<String> names = new ArrayList<>(config.inputs().size());
      for (TensorConfig in : config.inputs()) {
        names.add(in.name());
      }
      return names;
    }

    /** The column of input {@code name}, read in {@code row} (-1: the columnar format). */
    private Column column(String name, int row) {
      Column c = columns.get(name);
      if (c != null) {
        return c;
      }
      for (TensorConfig in : config.inputs()) {
        if (in.name().equals(name)) {
          c = new Column(model, name, in.datatype(), p);
          columns.put(name, c);
          return c;
        }
      }
      throw InferenceException.invalid(
          "model '%s' has no input '%s' (%s); its inputs are %s",
          model, cut(name), where(row), inputNames());
    }

    /** The column of a model of one input, once made (bare rows all go to it). */
    private @Nullable Column only;

    private Column onlyInput(int row) {
      Column c = only;
      if (c != null) {
        return c;
      }
      if (config.inputs().size() != 1) {
        throw InferenceException.invalid(
            "model '%s' has %d inputs %s: %s must be an object naming them",
            model, config.inputs().size(), inputNames(), where(row));
      }
      c = column(config.inputs().get(0).name(), row);
      only = c;
      return c;
    }

    private static boolean sameNames(List<String> a, List<String> b) {
      return a.size() == b.size() && a.containsAll(b);
    }
  }

  /** Where a value is, as a message names it: "instance 3", or "'inputs'" (row -1). */
  static String where(int row) {
    return row >= 0 ? "instance " + row : "'inputs'";
  }

  /** A client's string as a message quotes it, cut at 100 characters. */
  static String cut(String s) {
    return s.length() > 100 ? s.substring(0, 100) + "..." : s;
  }

  /**
   * One input's values as they are read: its elements in the tensor's layout in a growing buffer,
   * and the shape of its value (columnar) or of each row's value (row format), which every row must
   * repeat.
   */
  private static final class Column {
    private static final long[] SCALAR = new long[0];

    private final String model;
    private final String name;
    private final DataType type;
    private final JsonParser p;

    /** The elements: fixed-size ones in place, BYTES each a u32 LE length then its bytes. */
    private ByteBuffer data = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);

    /** Elements written so far. */
    private int count;

    /** The shape of the first row's value (row format) or of the value (columnar); null before. */
    private long @Nullable [] shape;

    /** The row being read, for messages ({@link #where}); -1 in the columnar format. */
    private int row = -1;

    Column(String model, String name, DataType type, JsonParser p) {
      this.model = model;
      this.name = name;
      this.type = type;
      this.p = p;
      if (type.isBinaryOnly()) {
        throw InferenceException.invalid(
            "model '%s': input '%s' is %s, which cannot travel as JSON; use the OIP endpoint"
                + " v2/models/%s/infer with binary data",
            model, name, type, model);
      }
    }

    /** Reads one value at the parser's current token (left at its last token). */
    void add(int row) throws IOException {
      this.row = row;
      long[] s = value();
      checkShape(row, s);
    }

    /** Reads a value {@code {"b64": "..."}} whose first field name the parser is at. */
    void addBinary(int row) throws IOException {
      this.row = row;
      binary();
      checkShape(row, SCALAR);
    }

    private void checkShape(int row, long[] s) {
      long[] first = shape;
      if (first == null) {
        shape = s;
      } else if (row >= 0 && !Arrays.equals(first, s)) {
        throw InferenceException.invalid(
            "model '%s': input '%s' has shape %s in instance %d but %s in instance 0; every"
                + " instance's value of an input has the same shape",
            model, name, Arrays.toString(s), row, Arrays.toString(first));
      } else if (row < 0) {
        throw new IllegalStateException("one input read twice in the columnar format");
      }
    }

    /** The value at the current token, its elements written; returns its shape. */
    private long[] value() throws IOException {
      JsonToken t = p.currentToken();
      if (t != JsonToken.START_ARRAY) {
        leaf(t);
        return SCALAR;
      }
      long n = 0;
      long[] item = null;
      for (JsonToken c = p.nextToken(); c != JsonToken.END_ARRAY; c = p.nextToken()) {
        long[] s = value();
        if (item == null) {
          item = s;
        } else if (!Arrays.equals(item, s)) {
          throw InferenceException.invalid(
              "model '%s': input '%s' (%s) is ragged: a list holds items of shapes %s and %s;"
                  + " every level of a value must be rectangular",
              model, name, where(row), Arrays.toString(item), Arrays.toString(s));
        }
        n++;
      }
      long[] shape = new long[1 + (item == null ? 0 : item.length)];
      shape[0] = n;
      if (item != null) {
        System.arraycopy(item, 0, shape, 1, item.length);
      }
      return shape;
    }

    private void leaf(JsonToken t) throws IOException {
      switch (type) {
        case BYTES -> {
          if (t == JsonToken.VALUE_STRING) {
            appendBytes(p.getText().getBytes(StandardCharsets.UTF_8));
          } else if (t == JsonToken.START_OBJECT && p.nextToken() == JsonToken.FIELD_NAME) {
            binary();
          } else {
            throw element("is %s; BYTES values are strings or {\"b64\": \"<base64>\"}");
          }
        }
        case BOOL -> {
          if (t != JsonToken.VALUE_TRUE && t != JsonToken.VALUE_FALSE) {
            throw element("is %s, not true or false");
          }
          fixed().put(count++, (byte) (t == JsonToken.VALUE_TRUE ? 1 : 0));
        }
        case FP32, FP64 -> {
          double v;
          if (t == JsonToken.VALUE_NUMBER_FLOAT || t == JsonToken.VALUE_NUMBER_INT) {
            v = p.getDoubleValue();
          } else if (t == JsonToken.VALUE_STRING) {
            v =
                switch (p.getText()) {
                  case "NaN", "nan" -> Double.NaN;
                  case "Infinity", "inf" -> Double.POSITIVE_INFINITY;
                  case "-Infinity", "-inf" -> Double.NEGATIVE_INFINITY;
                  default -> throw element("is %s, not a number");
                };
          } else {
            throw element("is %s, not a number");
          }
          ElementCodec.putDouble(type, fixed(), count++, v);
        }
        case UINT64 -> {
          if (t == JsonToken.VALUE_NUMBER_INT) {
            BigInteger v = p.getBigIntegerValue();
            if (v.signum() >= 0 && v.compareTo(UINT64_MAX) <= 0) {
              ElementCodec.putLong(type, fixed(), count++, v.longValue());
              return;
            }
          }
          throw element("is %s, not an integer in 0.." + UINT64_MAX);
        }
        default -> {
          long min = ElementCodec.min(type);
          long max = ElementCodec.max(type);
          if (t == JsonToken.VALUE_NUMBER_INT
              && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER) {
            long v = p.getLongValue();
            if (v >= min && v <= max) {
              ElementCodec.putLong(type, fixed(), count++, v);
              return;
            }
          }
          throw element("is %s, not an integer in " + min + ".." + max);
        }
      }
    }

    /** {@code {"b64": "..."}}, the parser at its first field name; left at its end. */
    private void binary() throws IOException {
      if (type != DataType.BYTES) {
        throw InferenceException.invalid(
            "model '%s': input '%s' (%s) is %s, not BYTES: {\"b64\": ...} is only for BYTES"
                + " inputs",
            model, name, where(row), type);
      }
      if (!"b64".equals(p.currentName()) || p.nextToken() != JsonToken.VALUE_STRING) {
        throw InferenceException.invalid(
            "model '%s': input '%s' (%s): an object in a value must be {\"b64\":"
                + " \"<base64>\"}",
            model, name, where(row));
      }
      byte[] bytes;
      String text = p.getText();
      try {
        bytes = Base64.getDecoder().decode(text);
      } catch (IllegalArgumentException e) {
        try {
          bytes = Base64.getUrlDecoder().decode(text); // the web-safe alphabet, as TF accepts
        } catch (IllegalArgumentException again) {
          throw InferenceException.invalid(
              "model '%s': input '%s' (%s): 'b64' is not base64: %s",
              model, name, where(row), e.getMessage());
        }
      }
      if (p.nextToken() != JsonToken.END_OBJECT) {
        throw InferenceException.invalid(
            "model '%s': input '%s' (%s): {\"b64\": ...} has other fields besides 'b64'",
            model, name, where(row));
      }
      appendBytes(bytes);
    }

    private InferenceException element(String what) throws IOException {
      String value =
          switch (p.currentToken()) {
            case START_ARRAY -> "a list";
            case START_OBJECT, FIELD_NAME -> "an object";
            case VALUE_STRING -> "\"" + cut(p.getText()) + "\"";
            default -> cut(p.getText());
          };
      String problem = String.format(Locale.ROOT, what, value);
      return InferenceException.invalid(
          "model '%s': input '%s' (%s), %s: element %d %s",
          model, name, type, where(row), count, problem);
    }

    /** The buffer, with room for one more fixed-size element. */
    private ByteBuffer fixed() {
      return room(type.byteSize());
    }

    private ByteBuffer room(int more) {
      ByteBuffer b = data;
      int used = type.isFixedSize() ? count * type.byteSize() : b.position();
      int need = Math.addExact(used, more);
      if (need > b.capacity()) {
        int grownSize = (int) Math.max(need, Math.min(Integer.MAX_VALUE - 8, b.capacity() * 2L));
        ByteBuffer grown = ByteBuffer.allocate(grownSize).order(ByteOrder.LITTLE_ENDIAN);
        grown.put(0, b, 0, used);
        grown.position(b.position());
        data = grown;
      }
      return data;
    }

    private void appendBytes(byte[] e) {
      if (count >= Tensor.MAX_BYTES_ELEMENTS) {
        throw InferenceException.invalid(
            "model '%s': input '%s' has more than %d BYTES elements",
            model, name, Tensor.MAX_BYTES_ELEMENTS);
      }
      ByteBuffer b = room(4 + e.length);
      b.putInt(e.length).put(e);
      count++;
    }

    /**
     * The input's tensor: {@code [rows] + the rows' shape} in the row format ({@code rows >= 0}),
     * the value's shape in the columnar format; its elements copied once into a buffer of {@code
     * buffers}.
     */
    Tensor tensor(int rows, TensorBuffers buffers) {
      long[] s = shape == null ? SCALAR : shape;
      long[] full = s;
      if (rows >= 0) {
        full = new long[s.length + 1];
        full[0] = rows;
        System.arraycopy(s, 0, full, 1, s.length);
      }
      int length = type.isFixedSize() ? count * type.byteSize() : data.position();
      ByteBuffer out = buffers.allocate(length);
      out.put(0, data, 0, length);
      out.position(0).limit(length);
      return Tensor.of(name, type, full, out);
    }
  }
}
