package dev.fulcrum.runtime.onnx;

import ai.onnxruntime.MapInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxMap;
import ai.onnxruntime.OnnxSequence;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.SequenceInfo;
import ai.onnxruntime.ValueInfo;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * The output of a ZipMap node, {@code seq(map(int64|string, float))}: one map of class label to
 * probability per row, which scikit-learn classifiers converted by skl2onnx (and onnxmltools'
 * LightGBM and XGBoost converters) give by default. OIP carries tensors only, so such an output is
 * served as an FP32 tensor {@code [rows, classes]} whose columns are the classes in the order of
 * their labels, sorted (numerically for int64 labels; scikit-learn's {@code classes_} order, which
 * ZipMap's labels follow) — the numbers of the model's probability tensor before the ZipMap.
 *
 * <p>Stateless and thread-safe.
 */
final class ProbabilityMaps {
  /** Int64 labels numerically, string labels by their characters; one kind per map. */
  private static final Comparator<Object> LABEL_ORDER =
      (a, b) -> {
        if (a instanceof Long x && b instanceof Long y) {
          return Long.compare(x, y);
        }
        return String.valueOf(a).compareTo(String.valueOf(b));
      };

  private ProbabilityMaps() {}

  /** Whether {@code info} is a sequence of maps from int64 or string labels to float values. */
  static boolean isProbabilityMaps(ValueInfo info) {
    if (!(info instanceof SequenceInfo s) || !s.isSequenceOfMaps()) {
      return false;
    }
    MapInfo map = s.mapInfo;
    return map != null
        && (map.keyType == OnnxJavaType.INT64 || map.keyType == OnnxJavaType.STRING)
        && map.valueType == OnnxJavaType.FLOAT;
  }

  /** The served spec of such an output: FP32 {@code [rows, classes]}, both dynamic. */
  static TensorSpec spec(String name) {
    return new TensorSpec(name, DataType.FP32, new long[] {-1, -1});
  }

  /**
   * The FP32 {@code [rows, classes]} tensor of a pass's sequence of maps.
   *
   * @throws InferenceException (internal) when the rows' maps do not hold the same labels
   */
  static Tensor toTensor(String name, OnnxSequence sequence) throws OrtException {
    if (sequence.getInfo().length == 0) {
      // a pass of no rows (ORT's Java API cannot read an empty sequence's elements' type)
      return Tensor.of(name, DataType.FP32, new long[] {0, 0}, ByteBuffer.allocate(0));
    }
    List<Map<? extends Object, ? extends Object>> rows = new ArrayList<>();
    // Each element is a value of its own that ORT made for this call: closed once read.
    List<? extends OnnxValue> elements = sequence.getValue();
    try {
      for (OnnxValue v : elements) {
        if (!(v instanceof OnnxMap map)) {
          throw InferenceException.internal(
              "output '" + name + "' row " + rows.size() + " is a " + v.getType() + ", not a map",
              null);
        }
        rows.add(map.getValue());
      }
    } finally {
      OnnxValue.close(elements);
    }
    if (rows.isEmpty()) {
      return Tensor.of(name, DataType.FP32, new long[] {0, 0}, ByteBuffer.allocate(0));
    }
    List<Object> labels = new ArrayList<>(rows.get(0).keySet());
    labels.sort(LABEL_ORDER);
    ByteBuffer data =
        ByteBuffer.allocate(Math.multiplyExact(rows.size(), labels.size()) * Float.BYTES)
            .order(ByteOrder.LITTLE_ENDIAN);
    for (int r = 0; r < rows.size(); r++) {
      Map<? extends Object, ? extends Object> row = rows.get(r);
      if (row.size() != labels.size()) {
        throw InferenceException.internal(
            "output '"
                + name
                + "': row "
                + r
                + " has "
                + row.size()
                + " classes, row 0 has "
                + labels.size(),
            null);
      }
      for (Object label : labels) {
        if (!(row.get(label) instanceof Float p)) {
          throw InferenceException.internal(
              "output '" + name + "': row " + r + " has no probability for class " + label, null);
        }
        data.putFloat(p);
      }
    }
    return Tensor.of(name, DataType.FP32, new long[] {rows.size(), labels.size()}, data.flip());
  }
}
