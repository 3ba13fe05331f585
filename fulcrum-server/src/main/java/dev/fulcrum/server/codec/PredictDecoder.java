package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.error.ErrorCode;
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
   * @param splitAnswer whether the answer is split into the request's rows ({@code "predictions":
   *     [row, ...]}), else each output written whole
   * @param mlflow whether it came to MLflow's {@code /invocations} ({@link MlflowDecoder}): the
   *     answer's field is then always {@code predictions}
   */
  public record PredictRequest(
      InferenceRequest request, boolean rows, int instances, boolean splitAnswer, boolean mlflow) {

    /** TF Serving's: the answer split into rows exactly when the request came in rows. */
    public PredictRequest(InferenceRequest request, boolean rows, int instances) {
      this(request, rows, instances, rows, false);
    }
  }

  /**
   * Decodes one body.
   *
   * @param model the model named in the path
   * @param version the version named in the path, or ""
   * @param config the model's configuration as served: its inputs' names and types
   * @throws InferenceException INVALID_ARGUMENT for a malformed body, an unknown input, a value of
   *     the wrong type, rows of different shapes, rows for a model whose outputs do not split into
   *     them ({@link #checkOutputsSplit}); TOO_LARGE for an input past what its body can carry
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
            Reader r = new Reader(model, config, p, body.readableBytes());
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
      if (rows) {
        checkOutputsSplit(model, config, instances);
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

  /**
   * Refuses the row format, before the model runs, for a model whose outputs cannot be split into
   * its rows: one without batching ({@code max-batch-size} 0) whose configured output has a first
   * dimension that is neither -1 nor the number of rows. (A batched model's outputs all lead with
   * the batch.) An output whose -1 first dimension turns out not to be the rows is then the model's
   * fault, answered 500 when the answer is written.
   */
  static void checkOutputsSplit(String model, ModelConfig config, int instances) {
    if (config.maxBatchSize() > 0) {
      return;
    }
    for (TensorConfig out : config.outputs()) {
      long[] dims = out.dims();
      if (dims.length == 0 || (dims[0] != -1 && dims[0] != instances)) {
        throw InferenceException.invalid(
            "model '%s' has no batching and its output '%s' has shape %s, which does not split"
                + " into the request's %d instances; send the columnar format ('inputs') to get"
                + " it whole",
            model, out.name(), Arrays.toString(dims), instances);
      }
    }
  }

  static JsonParser parser(ByteBuf body) throws IOException {
    int start = body.readerIndex();
    int length = body.readableBytes();
    if (body.hasArray()) {
      return JsonStreams.FACTORY.createParser(body.array(), body.arrayOffset() + start, length);
    }
    return JsonStreams.FACTORY.createParser(
        (InputStream) new ByteBufInputStream(body.slice(start, length), false));
  }

  /**
   * Reads {@code instances} or {@code inputs} into one column per input (also MLflow's frames,
   * {@link MlflowDecoder}).
   */
  static final class Reader {
    private final String model;
    private final ModelConfig config;
    private final @Nullable JsonParser p;
    private final long bodyLength;
    final Map<String, Column> columns = new LinkedHashMap<>();

    /**
     * @param p the JSON body's parser; null for a body that is not JSON (MLflow's CSV), whose
     *     columns take their elements as text ({@link Column#cell(String, int)})
     */
    Reader(String model, ModelConfig config, @Nullable JsonParser p, long bodyLength) {
      this.model = model;
      this.config = config;
      this.p = p;
      this.bodyLength = bodyLength;
    }

    /** The row format, the parser at the list's first token; returns the number of rows. */
    int rows() throws IOException {
      JsonParser p = json();
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
      JsonParser p = json();
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
      JsonParser p = json();
      return first == JsonToken.FIELD_NAME && "b64".equals(p.currentName()) && !hasInput("b64");
    }

    private JsonParser json() {
      JsonParser json = p;
      if (json == null) {
        throw new IllegalStateException("a body that is not JSON has no parser");
      }
      return json;
    }

    boolean hasInput(String name) {
      for (TensorConfig in : config.inputs()) {
        if (in.name().equals(name)) {
          return true;
        }
      }
      return false;
    }

    List<String> inputNames() {
      List<String> names = new ArrayList<>(config.inputs().size());
      for (TensorConfig in : config.inputs()) {
        names.add(in.name());
      }
      return names;
    }

    /** The column of input {@code name}, read in {@code row} (-1: the columnar format). */
    Column column(String name, int row) {
      Column c = columns.get(name);
      if (c != null) {
        return c;
      }
      for (TensorConfig in : config.inputs()) {
        if (in.name().equals(name)) {
          c = new Column(model, name, in.datatype(), p, bodyLength);
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

    Column onlyInput(int row) {
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

  /**
   * The most bytes a column of {@code type} can take from a body of {@code bodyLength} bytes, as
   * the OIP JSON decoder bounds a tensor: a fixed-size element takes at least two characters
   * ({@code 0,}), so at most (length + 1) / 2 elements; a BYTES element at least three ({@code
   * "",}) for its 4-byte length, and its bytes no more than their characters, so at most twice the
   * body. A column past it is refused (TOO_LARGE) rather than grown without end.
   */
  static long columnLimit(DataType type, long bodyLength) {
    long bound = type.isFixedSize() ? (bodyLength + 1) / 2 * type.byteSize() : 2 * bodyLength + 4;
    return Math.min(bound, Integer.MAX_VALUE - 8);
  }

  /**
   * As {@link #columnLimit}, for a column read from CSV text (MLflow's {@code text/csv}), where an
   * element takes at least one character: an empty cell and its comma (NaN for a float, "" for
   * BYTES, whose 4-byte length then comes from one character).
   */
  static long textColumnLimit(DataType type, long bodyLength) {
    long bound = type.isFixedSize() ? (bodyLength + 1) * type.byteSize() : 5 * bodyLength + 4;
    return Math.min(bound, Integer.MAX_VALUE - 8);
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
  static final class Column {
    private static final long[] SCALAR = new long[0];
    private static final int FIRST_CHUNK = 64;
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);
    static final int MAX_CHUNK = 1 << 20;

    private final String model;
    private final String name;
    private final DataType type;
    private final @Nullable JsonParser json;

    /**
     * The elements in chunks, each full but the last: fixed-size ones in place (a chunk's size is a
     * multiple of 8, so no element straddles two), BYTES each a u32 LE length then its bytes. The
     * chunks double from 64 bytes up to {@link #MAX_CHUNK} and then stay that size, so nothing is
     * copied as the column grows and at most one chunk is unused.
     */
    private final List<ByteBuffer> chunks = new ArrayList<>();

    /** Bytes written so far. */
    private long length;

    /** The most bytes this column may hold, from the body's size ({@link #columnLimit}). */
    private final long limit;

    /** Elements written so far. */
    private int count;

    /** The shape of the first row's value (row format) or of the value (columnar); null before. */
    private long @Nullable [] shape;

    /** The row being read, for messages ({@link #where}); -1 in the columnar format. */
    private int row = -1;

    Column(String model, String name, DataType type, @Nullable JsonParser json, long bodyLength) {
      this.model = model;
      this.name = name;
      this.type = type;
      this.json = json;
      this.limit = json == null ? textColumnLimit(type, bodyLength) : columnLimit(type, bodyLength);
      if (type.isBinaryOnly()) {
        throw InferenceException.invalid(
            "model '%s': input '%s' is %s, which cannot travel as %s; use the OIP endpoint"
                + " v2/models/%s/infer with binary data",
            model, name, type, json == null ? "CSV" : "JSON", model);
      }
    }

    /** Reads one value at the parser's current token (left at its last token). */
    void add(int row) throws IOException {
      this.row = row;
      long[] s = value();
      checkShape(row, s);
    }

    private JsonParser json() {
      JsonParser p = json;
      if (p == null) {
        throw new IllegalStateException("a column read from text has no parser");
      }
      return p;
    }

    /** The shape of each row's value (after the first row is read), or of the whole value. */
    long[] rowShape() {
      long[] s = shape;
      return s == null ? SCALAR : s;
    }

    /**
     * Reads one cell of a row whose value is built cell by cell (MLflow's single-input frames: the
     * frame's values across its columns are the input's row), the parser at the cell's first token;
     * returns the cell's shape, which the caller checks across the row's cells.
     */
    long[] cell(int row) throws IOException {
      this.row = row;
      return value();
    }

    /**
     * Ends a row read cell by cell ({@link #cell(int)}, {@link #cell(String, int)}): its shape is
     * {@code [cells] + cellShape}, which every row must repeat.
     */
    void endRow(int row, int cells, long[] cellShape) {
      long[] s = new long[cellShape.length + 1];
      s[0] = cells;
      System.arraycopy(cellShape, 0, s, 1, cellShape.length);
      checkShape(row, s);
    }

    /** Ends a row whose value is one scalar read as text ({@link #cell(String, int)}). */
    void endScalar(int row) {
      checkShape(row, SCALAR);
    }

    /**
     * Writes one element given as text (a CSV cell, as pandas' {@code read_csv} reads it): a number
     * for the numeric types ({@code nan}, {@code inf} and an empty cell are NaN and infinity for
     * FP32/FP64, as pandas reads them), {@code true}/{@code false} (any case) or 1/0 for BOOL, the
     * text itself for BYTES.
     */
    void cell(String text, int row) {
      this.row = row;
      String v = text.strip();
      switch (type) {
        case BYTES -> appendBytes(text.getBytes(StandardCharsets.UTF_8));
        case BOOL -> {
          byte b;
          if (v.equalsIgnoreCase("true") || v.equals("1")) {
            b = 1;
          } else if (v.equalsIgnoreCase("false") || v.equals("0")) {
            b = 0;
          } else {
            throw textElement(text, "not true or false");
          }
          ByteBuffer out = fixed();
          out.put(out.position(), b);
          written(out);
        }
        case FP32, FP64 -> {
          double d = textDouble(v);
          if (Double.isNaN(d) && !isNaNText(v)) {
            throw textElement(text, "not a number");
          }
          ByteBuffer out = fixed();
          ElementCodec.putDouble(type, out, out.position() / type.byteSize(), d);
          written(out);
        }
        default -> {
          long min = type == DataType.UINT64 ? 0 : ElementCodec.min(type);
          long max = ElementCodec.max(type);
          long n;
          try {
            n =
                type == DataType.UINT64
                    ? Long.parseUnsignedLong(v.startsWith("+") ? v.substring(1) : v)
                    : Long.parseLong(v);
          } catch (NumberFormatException e) {
            throw textElement(
                text,
                "not an integer in "
                    + min
                    + ".."
                    + (type == DataType.UINT64 ? UINT64_MAX.toString() : Long.toString(max)));
          }
          if (type != DataType.UINT64 && (n < min || n > max)) {
            throw textElement(text, "not an integer in " + min + ".." + max);
          }
          ByteBuffer out = fixed();
          ElementCodec.putLong(type, out, out.position() / type.byteSize(), n);
          written(out);
        }
      }
    }

    /** pandas' NaN spellings (and an empty cell), as {@code read_csv} reads a number column. */
    private static boolean isNaNText(String v) {
      return v.isEmpty() || v.equalsIgnoreCase("nan") || v.equalsIgnoreCase("NA");
    }

    /** A number as text, NaN when it is none (then {@link #isNaNText} tells the two apart). */
    private static double textDouble(String v) {
      if (isNaNText(v)) {
        return Double.NaN;
      }
      String lower = v.toLowerCase(Locale.ROOT);
      switch (lower) {
        case "inf", "+inf", "infinity", "+infinity" -> {
          return Double.POSITIVE_INFINITY;
        }
        case "-inf", "-infinity" -> {
          return Double.NEGATIVE_INFINITY;
        }
        default -> {}
      }
      // Double.parseDouble also takes hex floats and a trailing 'd' or 'f', which pandas does not.
      for (int i = 0; i < v.length(); i++) {
        char c = v.charAt(i);
        if (!(c >= '0' && c <= '9') && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-') {
          return Double.NaN;
        }
      }
      try {
        return Double.parseDouble(v);
      } catch (NumberFormatException e) {
        return Double.NaN;
      }
    }

    private InferenceException textElement(String text, String problem) {
      return InferenceException.invalid(
          "model '%s': input '%s' (%s), %s: element %d is \"%s\", %s",
          model, name, type, where(row), count, cut(text), problem);
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
        throw InferenceException.invalid(
            "model '%s': input '%s' is named twice in 'inputs'; name each input once", model, name);
      }
    }

    /** The value at the current token, its elements written; returns its shape. */
    private long[] value() throws IOException {
      JsonParser p = json();
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
      JsonParser p = json();
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
          ByteBuffer b = fixed();
          b.put(b.position(), (byte) (t == JsonToken.VALUE_TRUE ? 1 : 0));
          written(b);
        }
        case FP32, FP64 -> {
          double v;
          if (t == JsonToken.VALUE_NUMBER_FLOAT || t == JsonToken.VALUE_NUMBER_INT) {
            v = p.getDoubleValue();
          } else if (t == JsonToken.VALUE_STRING) {
            v = JsonTensorReader.nonFinite(p.getText());
            if (v == 0) {
              throw element("is %s, not a number");
            }
          } else {
            throw element("is %s, not a number");
          }
          ByteBuffer b = fixed();
          ElementCodec.putDouble(type, b, b.position() / type.byteSize(), v);
          written(b);
        }
        case UINT64 -> {
          if (t == JsonToken.VALUE_NUMBER_INT) {
            BigInteger v = p.getBigIntegerValue();
            if (v.signum() >= 0 && v.compareTo(UINT64_MAX) <= 0) {
              ByteBuffer b = fixed();
              ElementCodec.putLong(type, b, b.position() / type.byteSize(), v.longValue());
              written(b);
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
              ByteBuffer b = fixed();
              ElementCodec.putLong(type, b, b.position() / type.byteSize(), v);
              written(b);
              return;
            }
          }
          throw element("is %s, not an integer in " + min + ".." + max);
        }
      }
    }

    /** {@code {"b64": "..."}}, the parser at its first field name; left at its end. */
    private void binary() throws IOException {
      JsonParser p = json();
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
      JsonParser p = json();
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

    /** The chunk with room for one more fixed-size element, at its position. */
    private ByteBuffer fixed() {
      int size = type.byteSize();
      reserve(size);
      ByteBuffer last = chunks.isEmpty() ? null : chunks.get(chunks.size() - 1);
      return last != null && last.remaining() >= size ? last : grow();
    }

    /** One fixed-size element written at {@code b}'s position. */
    private void written(ByteBuffer b) {
      b.position(b.position() + type.byteSize());
      length += type.byteSize();
      count++;
    }

    /** Refuses {@code more} bytes past the column's {@link #columnLimit}. */
    private void reserve(long more) {
      if (length + more > limit) {
        throw new InferenceException(
            ErrorCode.TOO_LARGE,
            String.format(
                Locale.ROOT,
                "model '%s': input '%s' (%s) would take more than %d bytes, more than one"
                    + " request of this size can carry",
                model,
                name,
                type,
                limit));
      }
    }

    /** A new last chunk: double the bytes so far, 64 bytes to {@link #MAX_CHUNK}. */
    private ByteBuffer grow() {
      int size = (int) Math.min(MAX_CHUNK, Math.max(FIRST_CHUNK, length));
      ByteBuffer c = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
      chunks.add(c);
      return c;
    }

    /** Appends {@code bytes} across chunks. */
    private void put(byte[] bytes) {
      int off = 0;
      while (off < bytes.length) {
        ByteBuffer last = chunks.isEmpty() ? null : chunks.get(chunks.size() - 1);
        if (last == null || !last.hasRemaining()) {
          last = grow();
        }
        int n = Math.min(last.remaining(), bytes.length - off);
        last.put(bytes, off, n);
        off += n;
        length += n;
      }
    }

    private void appendBytes(byte[] e) {
      if (count >= Tensor.MAX_BYTES_ELEMENTS) {
        throw InferenceException.invalid(
            "model '%s': input '%s' has more than %d BYTES elements",
            model, name, Tensor.MAX_BYTES_ELEMENTS);
      }
      reserve(4L + e.length);
      int n = e.length;
      put(new byte[] {(byte) n, (byte) (n >>> 8), (byte) (n >>> 16), (byte) (n >>> 24)});
      put(e);
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
      return tensor(full, buffers);
    }

    /** The input's tensor of shape {@code full} (its elements' count), copied once. */
    Tensor tensor(long[] full, TensorBuffers buffers) {
      // Exactly the tensor's size, each chunk copied once and dropped as it is.
      int size = (int) length;
      ByteBuffer out = buffers.allocate(size);
      int at = 0;
      for (int i = 0; i < chunks.size(); i++) {
        ByteBuffer c = chunks.get(i);
        out.put(at, c, 0, c.position());
        at += c.position();
        chunks.set(i, EMPTY);
      }
      out.position(0).limit(size);
      return Tensor.of(name, type, full, out);
    }
  }
}
