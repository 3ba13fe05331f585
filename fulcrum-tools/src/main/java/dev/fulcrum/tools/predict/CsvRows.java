package dev.fulcrum.tools.predict;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.config.TensorConfig;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A model's answers as CSV rows: one column per output element of a row, named after the output
 * ({@code label}) or, for an output of several elements per row, {@code name_0}, {@code name_1},
 * ... in row-major order; with {@code --on-error skip} a last column {@code error}, empty for a row
 * that was scored. Numbers as Java writes them (shortest form), BOOL as {@code true}/{@code false},
 * BYTES as UTF-8 text, quoted where RFC 4180 needs it. Immutable and thread-safe.
 */
final class CsvRows {
  /** An output and its elements per row. */
  private record Output(String name, int elements) {}

  private final List<Output> outputs;
  private final boolean errorColumn;

  private CsvRows(List<Output> outputs, boolean errorColumn) {
    this.outputs = outputs;
    this.errorColumn = errorColumn;
  }

  /**
   * The columns of a model's outputs.
   *
   * @throws IllegalArgumentException for an output whose row has a variable size: it has no fixed
   *     columns (JSON lines carry it)
   */
  static CsvRows of(ModelConfig config, boolean errorColumn) {
    List<Output> outs = new ArrayList<>();
    for (TensorConfig t : config.outputs()) {
      long[] dims = t.dims();
      if (config.maxBatchSize() == 0 && dims.length > 0) {
        dims = Arrays.copyOfRange(dims, 1, dims.length);
      }
      long n = 1;
      for (long d : dims) {
        if (d < 0) {
          throw new IllegalArgumentException(
              "output '"
                  + t.name()
                  + "' has a variable size per row "
                  + Arrays.toString(t.dims())
                  + ", which has no fixed CSV columns; write JSON lines (--output-format jsonl)");
        }
        n *= d;
      }
      outs.add(new Output(t.name(), Math.toIntExact(n)));
    }
    return new CsvRows(List.copyOf(outs), errorColumn);
  }

  /** The header line. */
  byte[] header() {
    List<String> names = new ArrayList<>();
    for (Output o : outputs) {
      if (o.elements() == 1) {
        names.add(o.name());
      } else {
        for (int i = 0; i < o.elements(); i++) {
          names.add(o.name() + "_" + i);
        }
      }
    }
    if (errorColumn) {
      names.add("error");
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < names.size(); i++) {
      if (i > 0) {
        sb.append(',');
      }
      cell(sb, names.get(i));
    }
    return sb.append('\n').toString().getBytes(StandardCharsets.UTF_8);
  }

  /** The rows of an answer of {@code rows} rows. */
  byte[] rows(InferenceResponse response, int rows) {
    StringBuilder sb = new StringBuilder(rows * 16 * outputs.size());
    List<Tensor> tensors = new ArrayList<>(outputs.size());
    List<int[]> offsets = new ArrayList<>(outputs.size());
    for (Output o : outputs) {
      Tensor t = tensor(response, o.name());
      if (t.shape().length == 0
          || t.dim(0) != rows
          || t.elementCount() != (long) rows * o.elements()) {
        throw new IllegalStateException(
            "output '"
                + o.name()
                + "' has shape "
                + Arrays.toString(t.shape())
                + ", not "
                + rows
                + " rows of "
                + o.elements());
      }
      tensors.add(t);
      offsets.add(t.datatype() == DataType.BYTES ? offsets(t) : new int[0]);
    }
    for (int r = 0; r < rows; r++) {
      boolean first = true;
      for (int i = 0; i < outputs.size(); i++) {
        Tensor t = tensors.get(i);
        ByteBuffer data = t.data().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = outputs.get(i).elements();
        for (int e = 0; e < n; e++) {
          if (!first) {
            sb.append(',');
          }
          first = false;
          element(sb, t.datatype(), data, r * n + e, offsets.get(i));
        }
      }
      if (errorColumn) {
        sb.append(',');
      }
      sb.append('\n');
    }
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** A row that was not scored: empty output cells and the reason in the error column. */
  byte[] error(String reason) {
    StringBuilder sb = new StringBuilder();
    int cells = 0;
    for (Output o : outputs) {
      cells += o.elements();
    }
    sb.append(",".repeat(cells));
    cell(sb, reason);
    return sb.append('\n').toString().getBytes(StandardCharsets.UTF_8);
  }

  private static Tensor tensor(InferenceResponse response, String name) {
    for (Tensor t : response.outputs()) {
      if (t.name().equals(name)) {
        return t;
      }
    }
    throw new IllegalStateException("the answer has no output '" + name + "'");
  }

  private static int[] offsets(Tensor t) {
    ByteBuffer data = t.data().duplicate().order(ByteOrder.LITTLE_ENDIAN);
    int[] at = new int[Math.toIntExact(t.elementCount())];
    int p = 0;
    for (int i = 0; i < at.length; i++) {
      at[i] = p;
      p += 4 + data.getInt(p);
    }
    return at;
  }

  private static void element(StringBuilder sb, DataType type, ByteBuffer data, int i, int[] at) {
    switch (type) {
      case BYTES -> {
        int len = data.getInt(at[i]);
        byte[] b = new byte[len];
        data.get(at[i] + 4, b);
        cell(sb, new String(b, StandardCharsets.UTF_8));
      }
      case BOOL -> sb.append(data.get(i) != 0);
      case UINT64 -> sb.append(Long.toUnsignedString(data.getLong(i * 8)));
      case FP32 -> sb.append(ElementCodec.getFloat(data, i));
      case FP16, BF16, FP64 -> sb.append(ElementCodec.getDouble(type, data, i));
      default -> sb.append(ElementCodec.getLong(type, data, i));
    }
  }

  /** A cell, quoted when it holds a comma, a quote or a line break. */
  private static void cell(StringBuilder sb, String s) {
    if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
      sb.append(s);
      return;
    }
    sb.append('"').append(s.replace("\"", "\"\"")).append('"');
  }
}
