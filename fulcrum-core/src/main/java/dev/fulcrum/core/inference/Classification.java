package dev.fulcrum.core.inference;

import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import org.jspecify.annotations.Nullable;

/**
 * Triton's classification extension: an output asked for with the parameter {@code classification:
 * k} comes back as the k largest elements of each batch row as BYTES strings {@code "value:index"},
 * best first, and {@code "value:index:label"} where the output has labels ({@link ClassLabels}; an
 * index past the file's lines, or an empty line, has none, as in Triton). A model that batches gets
 * [rows, k] (each row's elements are its classes); one that does not gets [k] over the whole
 * output, as Triton does. k is cut to the number of classes. Values are written as Triton's {@code
 * std::to_string} writes them: floating-point types with six decimals, integers exactly. Stateless.
 */
public final class Classification {
  /** The parameter of a requested output that asks for it. */
  public static final String PARAMETER = "classification";

  /** The largest k accepted. */
  static final int MAX_CLASSES = 1 << 16;

  /** Up to this k a row is scanned k times; past it, sorted once. */
  private static final int SELECTED = 8;

  private Classification() {}

  /**
   * The k a requested output asks for, or empty when it does not ask.
   *
   * @throws InferenceException INVALID_ARGUMENT when the parameter is not an integer 1..65536
   */
  public static OptionalInt requested(RequestedOutput output) {
    Object k = output.parameters().get(PARAMETER);
    if (k == null) {
      return OptionalInt.empty();
    }
    long v;
    if (k instanceof Long || k instanceof Integer) {
      v = ((Number) k).longValue();
    } else if (k instanceof String s) {
      try {
        v = Long.parseLong(s.trim());
      } catch (NumberFormatException e) {
        v = -1;
      }
    } else {
      v = -1;
    }
    if (v < 1 || v > MAX_CLASSES) {
      throw InferenceException.invalid(
          "output '%s': parameter 'classification' must be an integer 1..%d, was %s",
          output.name(), MAX_CLASSES, k);
    }
    return OptionalInt.of((int) v);
  }

  /** Whether any output of the request asks for classification (no parse, no check). */
  public static boolean anyRequested(InferenceRequest request) {
    for (RequestedOutput o : request.outputs()) {
      if (o.parameters().containsKey(PARAMETER)) {
        return true;
      }
    }
    return false;
  }

  /**
   * {@code response} with each output its request asked classification of replaced by its top k;
   * the others as they are.
   *
   * @param batching whether the model batches: rows along dimension 0, else one vector
   * @param labels the model's class labels, by output
   */
  public static InferenceResponse apply(
      InferenceRequest request, InferenceResponse response, boolean batching, ClassLabels labels) {
    List<Tensor> outputs = new ArrayList<>(response.outputs().size());
    for (Tensor t : response.outputs()) {
      Tensor out = t;
      for (RequestedOutput o : request.outputs()) {
        if (o.name().equals(t.name())) {
          OptionalInt k = requested(o);
          if (k.isPresent()) {
            out = topK(t, k.getAsInt(), batching, labels.forOutput(t.name()));
          }
          break;
        }
      }
      outputs.add(out);
    }
    return new InferenceResponse(
        response.modelName(),
        response.modelVersion(),
        response.id(),
        response.parameters(),
        outputs,
        response.timing());
  }

  /** {@link #topK(Tensor, int, boolean, List)} without labels. */
  public static Tensor topK(Tensor t, int k, boolean batching) {
    return topK(t, k, batching, null);
  }

  /**
   * The {@code k} largest elements of each row of {@code t}, as {@code "value:index"} strings
   * ({@code "value:index:label"} where {@code labels} names the index), best first; of equal values
   * the lower index first; NaN ranks below every number.
   *
   * @param labels class i's label at index i, or null
   * @throws InferenceException INVALID_ARGUMENT for a BYTES tensor (nothing to rank)
   */
  public static Tensor topK(Tensor t, int k, boolean batching, @Nullable List<String> labels) {
    DataType type = t.datatype();
    if (type == DataType.BYTES) {
      throw InferenceException.invalid(
          "output '%s': classification needs a numeric output, not BYTES", t.name());
    }
    long count = t.elementCount();
    int rows = batching && t.rank() > 0 ? Math.toIntExact(t.dim(0)) : 1;
    int width = rows == 0 ? 0 : Math.toIntExact(count / rows);
    int kk = Math.min(k, width);
    ByteBuffer data = t.data();
    List<byte[]> elements = new ArrayList<>(rows * kk);
    double[] row = new double[width];
    boolean sorting = kk > SELECTED;
    Integer[] order = new Integer[sorting ? width : 0];
    boolean[] taken = new boolean[sorting ? 0 : width];
    for (int r = 0; r < rows; r++) {
      int base = r * width;
      for (int d = 0; d < width; d++) {
        row[d] = value(type, data, base + d);
      }
      if (sorting) {
        // Many classes asked: one sort of the row (n log n), not k scans of it.
        for (int d = 0; d < width; d++) {
          order[d] = d;
        }
        Arrays.sort(
            order, (a, b) -> above(row[a], row[b]) ? -1 : above(row[b], row[a]) ? 1 : a - b);
        for (int j = 0; j < kk; j++) {
          elements.add(element(type, data, base, order[j], labels));
        }
      } else {
        Arrays.fill(taken, false);
        for (int j = 0; j < kk; j++) {
          int best = -1;
          for (int d = 0; d < width; d++) {
            if (!taken[d] && (best < 0 || above(row[d], row[best]))) {
              best = d;
            }
          }
          taken[best] = true;
          elements.add(element(type, data, base, best, labels));
        }
      }
    }
    long[] shape = batching && t.rank() > 0 ? new long[] {rows, kk} : new long[] {kk};
    return Tensor.ofBytes(t.name(), shape, elements);
  }

  private static byte[] element(
      DataType type, ByteBuffer data, int base, int index, @Nullable List<String> labels) {
    String s = format(type, data, base + index) + ":" + index;
    String label = labels != null && index < labels.size() ? labels.get(index) : "";
    return (label.isEmpty() ? s : s + ":" + label).getBytes(StandardCharsets.UTF_8);
  }

  /** Whether {@code a} ranks above {@code b}: larger, and any number above NaN. */
  private static boolean above(double a, double b) {
    return Double.isNaN(b) ? !Double.isNaN(a) : a > b;
  }

  private static double value(DataType type, ByteBuffer data, int i) {
    if (ElementCodec.isIntegral(type)) {
      long v = ElementCodec.getLong(type, data, i);
      // UINT64 above Long.MAX_VALUE reads negative: rank it by its unsigned value.
      return type == DataType.UINT64 && v < 0 ? 0x1p64 + v : v;
    }
    return ElementCodec.getDouble(type, data, i);
  }

  private static String format(DataType type, ByteBuffer data, int i) {
    if (ElementCodec.isIntegral(type)) {
      long v = ElementCodec.getLong(type, data, i);
      return type == DataType.UINT64 ? Long.toUnsignedString(v) : Long.toString(v);
    }
    return String.format(Locale.ROOT, "%f", ElementCodec.getDouble(type, data, i));
  }
}
