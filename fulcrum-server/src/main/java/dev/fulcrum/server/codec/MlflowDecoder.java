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
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorBuffers;
import dev.fulcrum.server.codec.PredictDecoder.Column;
import dev.fulcrum.server.codec.PredictDecoder.PredictRequest;
import dev.fulcrum.server.codec.PredictDecoder.Reader;
import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Decodes a body of MLflow's scoring protocol (MLflow 2.x, {@code POST /invocations}, which
 * SageMaker's bring-your-own-container contract shares) into the core's {@link InferenceRequest},
 * with the TF Serving decoder's streaming reader and columns ({@link PredictDecoder.Reader}, {@link
 * PredictDecoder.Column}): each value is written straight into its input's growing buffer and
 * copied once into its tensor.
 *
 * <p>The JSON body has exactly one of four fields, and may have {@code "params"}, which is ignored
 * (MLflow ignores the params of a model whose signature has no params schema, and a Fulcrum model
 * has none). <b>A frame</b> ({@code "dataframe_split": {"columns": [...], "data": [[...], ...],
 * "index": [...]}}, {@code "dataframe_records": [{column: value, ...}, ...]}, or a CSV body with a
 * header row, {@code Content-Type: text/csv}) maps to the inputs as MLflow's ONNX flavour maps a
 * DataFrame: a model of one input takes the frame's values, each row (its cells across the columns,
 * in order) one row of that input, whatever the columns are named; a model of several inputs takes
 * one column per input, by name, each cell one row of that input. A frame is answered row by row
 * ({@code splitAnswer}). <b>A tensor</b> ({@code "instances"}: a list of rows as TF Serving's row
 * format, or an object of input name to its rows; {@code "inputs"}: TF Serving's columnar format)
 * is answered output by output, whole. A cell or row value of shape {@code []} for an input of dims
 * {@code [1]}, or {@code [1, d...]} for one of dims {@code [d...]} (a frame of one column of
 * lists), is taken as the input's row. In {@code dataframe_split}, {@code "columns"} comes before
 * {@code "data"} for a model of several inputs (as pandas and MLflow's client write it).
 *
 * <p>Stateless and thread-safe; each call reads on the calling thread.
 */
public final class MlflowDecoder {
  private MlflowDecoder() {}

  /** The four input fields, as MLflow's errors list them. */
  static final String FIELDS = "'dataframe_split', 'dataframe_records', 'instances', 'inputs'";

  /**
   * Decodes one body.
   *
   * @param csv whether the body is CSV ({@code Content-Type: text/csv}), else JSON
   * @throws InferenceException INVALID_ARGUMENT for a malformed body, an unknown field or column, a
   *     row of another length or shape, a value of the wrong type; TOO_LARGE for an input past what
   *     its body can carry
   */
  public static PredictRequest decode(
      String model,
      String version,
      ModelConfig config,
      ByteBuf body,
      boolean csv,
      TensorBuffers buffers) {
    Frame f = csv ? csv(model, config, body) : json(model, config, body);
    if (f.split) {
      PredictDecoder.checkOutputsSplit(model, config, f.rows);
    }
    List<Tensor> inputs = new ArrayList<>(f.reader.columns.size());
    for (Map.Entry<String, Column> e : f.reader.columns.entrySet()) {
      Column c = e.getValue();
      inputs.add(
          f.rows < 0
              ? c.tensor(-1, buffers)
              : c.tensor(fitted(f.rows, c.rowShape(), rowDims(config, e.getKey())), buffers));
    }
    return new PredictRequest(
        new InferenceRequest(
            model, version, "", Map.of(), inputs, List.of(), RequestOptions.parse(model, Map.of())),
        f.rows >= 0,
        Math.max(f.rows, 0),
        f.split,
        true);
  }

  /**
   * What a body was read into.
   *
   * @param rows its rows, -1 for {@code "inputs"} (each input's value whole)
   * @param split whether it is a frame, answered row by row
   */
  private record Frame(Reader reader, int rows, boolean split) {}

  /** An input's dims per row (a model without batching: its dims past the first). */
  private static long @Nullable [] rowDims(ModelConfig config, String input) {
    for (TensorConfig in : config.inputs()) {
      if (in.name().equals(input)) {
        long[] d = in.dims();
        return config.maxBatchSize() > 0 || d.length == 0 ? d : Arrays.copyOfRange(d, 1, d.length);
      }
    }
    return null;
  }

  /**
   * The tensor shape of {@code rows} rows of shape {@code row}: {@code [rows] + row}, but {@code
   * [rows, 1]} for scalar rows of an input of dims {@code [1]}, and {@code [rows] + d} for rows of
   * shape {@code [1] + d} of an input of dims {@code d} (a frame's one column of lists).
   */
  static long[] fitted(int rows, long[] row, long @Nullable [] dims) {
    long[] s = row;
    if (dims != null && !fits(row, dims)) {
      if (row.length == 0 && dims.length == 1 && dims[0] == 1) {
        s = new long[] {1};
      } else if (row.length == dims.length + 1
          && row[0] == 1
          && fits(Arrays.copyOfRange(row, 1, row.length), dims)) {
        s = Arrays.copyOfRange(row, 1, row.length);
      }
    }
    long[] full = new long[s.length + 1];
    full[0] = rows;
    System.arraycopy(s, 0, full, 1, s.length);
    return full;
  }

  private static boolean fits(long[] shape, long[] dims) {
    if (shape.length != dims.length) {
      return false;
    }
    for (int i = 0; i < dims.length; i++) {
      if (dims[i] >= 0 && dims[i] != shape[i]) {
        return false;
      }
    }
    return true;
  }

  private static Frame json(String model, ModelConfig config, ByteBuf body) {
    try (JsonParser p = PredictDecoder.parser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw InferenceException.invalid(
            "model '%s': the request must be a JSON object with exactly one of %s", model, FIELDS);
      }
      Frame frame = null;
      String format = null;
      for (String field = p.nextFieldName(); field != null; field = p.nextFieldName()) {
        JsonToken t = p.nextToken();
        switch (field) {
          case "params" -> p.skipChildren(); // MLflow ignores them for a model without a schema
          case "dataframe_split", "dataframe_records", "instances", "inputs" -> {
            if (format != null) {
              throw InferenceException.invalid(
                  "model '%s': the request has both '%s' and '%s'; send exactly one of %s",
                  model, format, field, FIELDS);
            }
            format = field;
            Reader r = new Reader(model, config, p, body.readableBytes());
            frame =
                switch (field) {
                  case "dataframe_split" -> new Frame(r, split(model, config, r, p), true);
                  case "dataframe_records" -> new Frame(r, records(model, config, r, p), true);
                  case "instances" ->
                      t == JsonToken.START_OBJECT
                          ? columns(r)
                          : new Frame(r, r.rows(), false); // TF Serving's rows
                  default -> columns(r);
                };
          }
          default ->
              throw InferenceException.invalid(
                  "model '%s': the request has the field '%s'; it takes exactly one of %s (and"
                      + " 'params')",
                  model, PredictDecoder.cut(field), FIELDS);
        }
      }
      if (p.nextToken() != null) {
        throw InferenceException.invalid(
            "model '%s': malformed JSON in the request: more JSON after the request's object",
            model);
      }
      if (frame == null) {
        throw InferenceException.invalid(
            "model '%s': the request needs exactly one of %s", model, FIELDS);
      }
      return frame;
    } catch (JacksonException e) {
      throw InferenceException.invalid(
          "model '%s': malformed JSON in the request: %s", model, e.getOriginalMessage());
    } catch (IOException e) {
      throw InferenceException.invalid(
          "model '%s': cannot read the request: %s", model, e.getMessage());
    }
  }

  /** {@code inputs} (or {@code instances} as an object): TF Serving's columnar format. */
  private static Frame columns(Reader r) throws IOException {
    r.columns();
    return new Frame(r, -1, false);
  }

  /** {@code dataframe_split}, the parser at its object; returns the number of rows. */
  private static int split(String model, ModelConfig config, Reader r, JsonParser p)
      throws IOException {
    if (p.currentToken() != JsonToken.START_OBJECT) {
      throw InferenceException.invalid(
          "model '%s': 'dataframe_split' must be an object {\"columns\": [...], \"data\":"
              + " [[...], ...]}",
          model);
    }
    List<String> columns = null;
    int rows = -1;
    for (String field = p.nextFieldName(); field != null; field = p.nextFieldName()) {
      p.nextToken();
      switch (field) {
        case "columns" -> columns = names(model, p);
        case "index" -> p.skipChildren(); // the frame's row labels: no part of the inputs
        case "data" -> rows = splitData(model, config, r, p, columns);
        default ->
            throw InferenceException.invalid(
                "model '%s': 'dataframe_split' has the field '%s'; it takes 'columns', 'data' and"
                    + " 'index'",
                model, PredictDecoder.cut(field));
      }
    }
    if (rows < 0) {
      throw InferenceException.invalid(
          "model '%s': 'dataframe_split' needs 'data', its rows", model);
    }
    if (columns != null && config.inputs().size() == 1) {
      // Single input, columns after the data: each row's length is known only now.
      long[] s = r.onlyInput(0).rowShape();
      if (s.length > 0 && s[0] != columns.size()) {
        throw rowLength(model, 0, (int) s[0], columns.size());
      }
    }
    return rows;
  }

  /** The frame's column names: strings (or numbers, pandas' default names), each once. */
  private static List<String> names(String model, JsonParser p) throws IOException {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      throw InferenceException.invalid(
          "model '%s': 'columns' must be a list of column names", model);
    }
    List<String> names = new ArrayList<>();
    for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
      if (t != JsonToken.VALUE_STRING && t != JsonToken.VALUE_NUMBER_INT) {
        throw InferenceException.invalid(
            "model '%s': 'columns' must be a list of column names; item %d is not one",
            model, names.size());
      }
      names.add(p.getText());
    }
    return unique(model, names);
  }

  private static List<String> unique(String model, List<String> names) {
    if (new HashSet<>(names).size() != names.size()) {
      throw InferenceException.invalid(
          "model '%s': the frame names a column twice (%s); name each column once",
          model, PredictDecoder.cut(names.toString()));
    }
    return names;
  }

  private static InferenceException rowLength(String model, int row, int cells, int columns) {
    return InferenceException.invalid(
        "model '%s': row %d has %d values but the frame has %d columns",
        model, row, cells, columns);
  }

  /** {@code dataframe_split}'s {@code data}, the parser at its list; returns the rows. */
  private static int splitData(
      String model, ModelConfig config, Reader r, JsonParser p, @Nullable List<String> columns)
      throws IOException {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      throw InferenceException.invalid(
          "model '%s': 'data' must be a list of rows, each a list of the row's values", model);
    }
    boolean single = config.inputs().size() == 1;
    if (!single && columns == null) {
      throw InferenceException.invalid(
          "model '%s' has %d inputs %s: 'dataframe_split' names its 'columns' (one per input)"
              + " before its 'data'",
          model, config.inputs().size(), r.inputNames());
    }
    int row = 0;
    for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken(), row++) {
      if (t != JsonToken.START_ARRAY) {
        throw InferenceException.invalid(
            "model '%s': row %d of 'data' is not a list of the row's values", model, row);
      }
      int cells = 0;
      long[] cellShape = null;
      Column only = single ? r.onlyInput(row) : null;
      for (JsonToken c = p.nextToken(); c != JsonToken.END_ARRAY; c = p.nextToken(), cells++) {
        if (only != null) {
          cellShape = sameCells(model, row, cellShape, only.cell(row));
          continue;
        }
        List<String> names = java.util.Objects.requireNonNull(columns);
        if (cells >= names.size()) {
          throw rowLength(model, row, cells + 1, names.size());
        }
        r.column(names.get(cells), row).add(row);
      }
      if (columns != null && cells != columns.size()) {
        throw rowLength(model, row, cells, columns.size());
      }
      if (only != null) {
        only.endRow(row, cells, cellShape == null ? new long[0] : cellShape);
      }
    }
    if (row == 0) {
      throw InferenceException.invalid("model '%s': 'data' is empty; send at least one row", model);
    }
    return row;
  }

  /** The shape every cell of a row has (single input): the first's; a ragged row is refused. */
  private static long[] sameCells(String model, int row, long @Nullable [] first, long[] cell) {
    if (first != null && !Arrays.equals(first, cell)) {
      throw InferenceException.invalid(
          "model '%s': row %d has values of shapes %s and %s; every value of a row has the same"
              + " shape",
          model, row, Arrays.toString(first), Arrays.toString(cell));
    }
    return cell;
  }

  /** {@code dataframe_records}, the parser at its list; returns the rows. */
  private static int records(String model, ModelConfig config, Reader r, JsonParser p)
      throws IOException {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      throw InferenceException.invalid(
          "model '%s': 'dataframe_records' must be a list of records, each an object of column"
              + " name to value",
          model);
    }
    if (config.inputs().size() != 1) {
      return r.rows(); // one column per input, by name: TF Serving's named instances
    }
    Column only = r.onlyInput(0);
    List<String> first = null;
    int row = 0;
    for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken(), row++) {
      if (t != JsonToken.START_OBJECT) {
        throw InferenceException.invalid(
            "model '%s': record %d of 'dataframe_records' is not an object of column name to"
                + " value",
            model, row);
      }
      List<String> names = new ArrayList<>(first == null ? 8 : first.size());
      long[] cellShape = null;
      for (JsonToken f = p.nextToken(); f != JsonToken.END_OBJECT; f = p.nextToken()) {
        names.add(p.currentName());
        p.nextToken();
        cellShape = sameCells(model, row, cellShape, only.cell(row));
      }
      if (first == null) {
        if (names.isEmpty()) {
          throw InferenceException.invalid("model '%s': record 0 is an empty object", model);
        }
        first = unique(model, names);
      } else if (!first.equals(names)) {
        // The values make the input's row in the columns' order: a record in another order (or
        // with other columns) would be misread, so it is refused.
        throw InferenceException.invalid(
            "model '%s': record %d names the columns %s but record 0 names %s; every record"
                + " names the same columns in the same order",
            model, row, PredictDecoder.cut(names.toString()), PredictDecoder.cut(first.toString()));
      }
      only.endRow(row, names.size(), cellShape == null ? new long[0] : cellShape);
    }
    if (row == 0) {
      throw InferenceException.invalid(
          "model '%s': 'dataframe_records' is empty; send at least one record", model);
    }
    return row;
  }

  /** A CSV body: a header row of column names, then one line per row (pandas' read_csv). */
  private static Frame csv(String model, ModelConfig config, ByteBuf body) {
    Reader r = new Reader(model, config, null, body.readableBytes());
    Csv in = new Csv(model, body);
    List<String> columns = new ArrayList<>();
    while (columns.isEmpty() && !in.atEnd()) {
      in.line(columns);
      if (columns.size() == 1 && columns.get(0).isEmpty()) {
        columns.clear(); // a blank line
      }
    }
    if (columns.isEmpty()) {
      throw InferenceException.invalid(
          "model '%s': the CSV body is empty; send a header row of column names, then the rows",
          model);
    }
    boolean single = config.inputs().size() == 1;
    if (single && config.inputs().get(0).datatype() != DataType.BYTES && allNumbers(columns)) {
      // SageMaker's text/csv usually has no header row; read as pandas reads it, its first row
      // would silently become the column names and be lost.
      throw InferenceException.invalid(
          "model '%s': the CSV body's first line (%s) is all numbers, which reads as a row of data,"
              + " not a header row: /invocations takes CSV with a header row of column names"
              + " (pandas' DataFrame.to_csv(index=False)); add one, such as 'c0,c1,...'",
          model, PredictDecoder.cut(String.join(",", columns)));
    }
    unique(model, columns);
    if (!single) {
      for (String c : columns) {
        if (!r.hasInput(c)) {
          throw InferenceException.invalid(
              "model '%s' has no input '%s' (a column of the CSV); its inputs are %s",
              model, PredictDecoder.cut(c), r.inputNames());
        }
      }
    }
    List<String> cells = new ArrayList<>(columns.size());
    int row = 0;
    while (!in.atEnd()) {
      cells.clear();
      in.line(cells);
      if (cells.size() == 1 && cells.get(0).isEmpty()) {
        continue; // a blank line, which read_csv skips
      }
      if (cells.size() != columns.size()) {
        throw rowLength(model, row, cells.size(), columns.size());
      }
      if (single) {
        Column only = r.onlyInput(row);
        for (String cell : cells) {
          only.cell(cell, row);
        }
        only.endRow(row, cells.size(), new long[0]);
      } else {
        for (int i = 0; i < cells.size(); i++) {
          Column c = r.column(columns.get(i), row);
          c.cell(cells.get(i), row);
          c.endScalar(row);
        }
      }
      row++;
    }
    if (row == 0) {
      throw InferenceException.invalid(
          "model '%s': the CSV body has a header row but no rows", model);
    }
    return new Frame(r, row, true);
  }

  /** Whether every cell of a CSV line parses as a number (a row of data, not column names). */
  static boolean allNumbers(List<String> cells) {
    for (String c : cells) {
      String t = c.strip();
      if (t.isEmpty()) {
        return false;
      }
      try {
        Double.parseDouble(t);
      } catch (NumberFormatException e) {
        return false;
      }
    }
    return true;
  }

  /**
   * The cells of a CSV body, line by line (RFC 4180): comma-separated, a cell in double quotes may
   * hold commas, line breaks and doubled quotes; lines end in LF or CRLF; UTF-8.
   */
  private static final class Csv {
    private final String model;
    private final ByteBuf body;
    private int at;
    private final int end;
    private int line;
    private byte[] cell = new byte[64];

    Csv(String model, ByteBuf body) {
      this.model = model;
      this.body = body;
      this.end = body.writerIndex();
      int start = body.readerIndex();
      if (end - start >= 3
          && body.getByte(start) == (byte) 0xEF
          && body.getByte(start + 1) == (byte) 0xBB
          && body.getByte(start + 2) == (byte) 0xBF) {
        start += 3; // UTF-8's byte order mark (Excel's CSV): no part of the first column's name
      }
      this.at = start;
    }

    boolean atEnd() {
      return at >= end;
    }

    /** Reads one line's cells into {@code out}. */
    void line(List<String> out) {
      while (true) {
        int n = 0;
        boolean quoted = false;
        boolean lineEnd = false;
        boolean comma = false;
        if (at < end && body.getByte(at) == '"') {
          quoted = true;
          at++;
          while (true) {
            if (at >= end) {
              throw InferenceException.invalid(
                  "model '%s': line %d of the CSV body has a quoted value with no closing quote",
                  model, line + 1);
            }
            byte b = body.getByte(at++);
            if (b == '"') {
              if (at < end && body.getByte(at) == '"') {
                at++; // a doubled quote: one quote in the value
              } else {
                break;
              }
            }
            if (b == '\n') {
              line++;
            }
            n = put(n, b);
          }
        }
        while (at < end) {
          byte b = body.getByte(at++);
          if (b == ',') {
            comma = true;
            break;
          }
          if (b == '\n') {
            lineEnd = true;
            break;
          }
          if (b == '\r' && at < end && body.getByte(at) == '\n') {
            continue;
          }
          if (quoted && b != ' ') {
            throw InferenceException.invalid(
                "model '%s': line %d of the CSV body has text after a quoted value's closing"
                    + " quote",
                model, line + 1);
          }
          n = put(n, b);
        }
        out.add(new String(cell, 0, n, StandardCharsets.UTF_8));
        if (lineEnd || at >= end) {
          if (comma) {
            out.add(""); // a comma ending the body: the line's last cell is empty
          }
          line++;
          return;
        }
      }
    }

    private int put(int n, byte b) {
      if (n == cell.length) {
        cell = Arrays.copyOf(cell, n * 2);
      }
      cell[n] = b;
      return n + 1;
    }
  }
}
