package dev.fulcrum.testkit;

import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * Small ONNX models for end-to-end tests, written as a Triton-layout model repository ({@code
 * <dir>/<model>/1/model.onnx}). Names and contents are stable; the same call writes the same bytes.
 *
 * <p>Stateless and thread-safe.
 *
 * <ul>
 *   <li>{@code identity_<type>} for every {@link DataType} ({@code identity_fp32}, {@code
 *       identity_bytes}, ...): {@code INPUT0} [-1, -1] -> Identity -> {@code OUTPUT0} [-1, -1].
 *   <li>{@code identity_fp32_static}: FP32 {@code INPUT0} [2, 3] -> {@code OUTPUT0} [2, 3].
 *   <li>{@code scalar_int64}: INT64 rank-0 {@code INPUT0} -> Identity -> rank-0 {@code OUTPUT0}.
 *   <li>{@code cast_int32_to_fp32}: INT32 {@code INPUT0} [-1, -1] -> Cast -> FP32 {@code OUTPUT0}.
 *   <li>{@code add_sub_int32}: Triton's "simple": INT32 {@code INPUT0}, {@code INPUT1} [-1, 16];
 *       {@code OUTPUT0} = INPUT0 + INPUT1, {@code OUTPUT1} = INPUT0 - INPUT1.
 *   <li>{@code multi_io_mixed}: FP32 {@code INPUT0} [-1, 4] and INT64 {@code INPUT1} [-1, 4];
 *       {@code OUTPUT0} (FP32) = INPUT0 * 2, {@code OUTPUT1} (INT64) = INPUT1 + 1, {@code OUTPUT2}
 *       (FP32) = INPUT0 + float(INPUT1).
 * </ul>
 */
public final class TestModels {
  public static final String INPUT0 = "INPUT0";
  public static final String INPUT1 = "INPUT1";
  public static final String OUTPUT0 = "OUTPUT0";
  public static final String OUTPUT1 = "OUTPUT1";
  public static final String OUTPUT2 = "OUTPUT2";

  public static final String IDENTITY_FP32_STATIC = "identity_fp32_static";
  public static final String SCALAR_INT64 = "scalar_int64";
  public static final String CAST_INT32_TO_FP32 = "cast_int32_to_fp32";
  public static final String ADD_SUB_INT32 = "add_sub_int32";
  public static final String MULTI_IO_MIXED = "multi_io_mixed";

  /** The version folder every model is written to. */
  public static final String VERSION = "1";

  /** The model file name in each version folder. */
  public static final String MODEL_FILENAME = "model.onnx";

  private static final long D = OnnxModelBuilder.DYNAMIC;

  private TestModels() {}

  /** The name of the identity model of a datatype, e.g. {@code identity_fp32}. */
  public static String identityModelName(DataType type) {
    return "identity_" + type.name().toLowerCase(Locale.ROOT);
  }

  /** Every model name, in a stable order. */
  public static List<String> modelNames() {
    List<String> names = new ArrayList<>();
    for (DataType t : DataType.values()) {
      names.add(identityModelName(t));
    }
    names.add(IDENTITY_FP32_STATIC);
    names.add(SCALAR_INT64);
    names.add(CAST_INT32_TO_FP32);
    names.add(ADD_SUB_INT32);
    names.add(MULTI_IO_MIXED);
    return Collections.unmodifiableList(names);
  }

  /**
   * Writes every model to {@code <dir>/<model>/1/model.onnx}.
   *
   * @return {@code dir}
   */
  public static Path writeRepository(Path dir) throws IOException {
    for (String name : modelNames()) {
      writeModel(dir, name);
    }
    return dir;
  }

  /**
   * Writes one model to {@code <dir>/<name>/1/model.onnx}.
   *
   * @return the model file
   * @throws IllegalArgumentException for an unknown name
   */
  public static Path writeModel(Path dir, String name) throws IOException {
    return builder(name).write(dir.resolve(name).resolve(VERSION).resolve(MODEL_FILENAME));
  }

  /** The serialized model of a name. */
  public static byte[] model(String name) {
    return builder(name).build();
  }

  /**
   * The builder of a model, for tests that want to change it.
   *
   * @throws IllegalArgumentException for an unknown name
   */
  public static OnnxModelBuilder builder(String name) {
    for (DataType t : DataType.values()) {
      if (name.equals(identityModelName(t))) {
        return identity(name, t, D, D);
      }
    }
    return switch (name) {
      case IDENTITY_FP32_STATIC -> identity(name, DataType.FP32, 2, 3);
      case SCALAR_INT64 -> identity(name, DataType.INT64);
      case CAST_INT32_TO_FP32 ->
          OnnxModelBuilder.create(name)
              .input(INPUT0, DataType.INT32, D, D)
              .output(OUTPUT0, DataType.FP32, D, D)
              .node(
                  "Cast",
                  List.of(INPUT0),
                  List.of(OUTPUT0),
                  OnnxModelBuilder.intAttr(
                      "to", OnnxModelBuilder.onnxType(DataType.FP32).getNumber()));
      case ADD_SUB_INT32 ->
          OnnxModelBuilder.create(name)
              .input(INPUT0, DataType.INT32, D, 16)
              .input(INPUT1, DataType.INT32, D, 16)
              .output(OUTPUT0, DataType.INT32, D, 16)
              .output(OUTPUT1, DataType.INT32, D, 16)
              .node("Add", List.of(INPUT0, INPUT1), List.of(OUTPUT0))
              .node("Sub", List.of(INPUT0, INPUT1), List.of(OUTPUT1));
      case MULTI_IO_MIXED ->
          OnnxModelBuilder.create(name)
              .input(INPUT0, DataType.FP32, D, 4)
              .input(INPUT1, DataType.INT64, D, 4)
              .output(OUTPUT0, DataType.FP32, D, 4)
              .output(OUTPUT1, DataType.INT64, D, 4)
              .output(OUTPUT2, DataType.FP32, D, 4)
              .floatInitializer("two", new long[0], 2f)
              .longInitializer("one", new long[0], 1L)
              .node("Mul", List.of(INPUT0, "two"), List.of(OUTPUT0))
              .node("Add", List.of(INPUT1, "one"), List.of(OUTPUT1))
              .node(
                  "Cast",
                  List.of(INPUT1),
                  List.of("input1_fp32"),
                  OnnxModelBuilder.intAttr(
                      "to", OnnxModelBuilder.onnxType(DataType.FP32).getNumber()))
              .node("Add", List.of(INPUT0, "input1_fp32"), List.of(OUTPUT2));
      default -> throw new IllegalArgumentException("no test model named '" + name + "'");
    };
  }

  private static OnnxModelBuilder identity(String name, DataType type, long... shape) {
    return OnnxModelBuilder.create(name)
        .input(INPUT0, type, shape)
        .output(OUTPUT0, type, shape)
        .node("Identity", List.of(INPUT0), List.of(OUTPUT0));
  }
}
