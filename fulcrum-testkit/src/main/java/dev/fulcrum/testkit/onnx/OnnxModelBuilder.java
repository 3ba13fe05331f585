package dev.fulcrum.testkit.onnx;

import com.google.protobuf.ByteString;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.AttributeProto;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.GraphProto;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.ModelProto;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.NodeProto;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.OperatorSetIdProto;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.StringStringEntryProto;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.TensorProto;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.TensorShapeProto;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.TypeProto;
import dev.fulcrum.testkit.onnx.proto.OnnxProto.ValueInfoProto;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * A small fluent builder of ONNX models (one graph of standard-domain operators, and the {@code
 * ai.onnx.ml} operators scikit-learn's converters write), for tests.
 *
 * <p>Shapes are given as {@code long} dimensions; {@link #DYNAMIC} (-1) writes a symbolic dimension
 * ({@code dim_param}) named after its tensor and axis. The output is deterministic: the same calls
 * give the same bytes.
 *
 * <p>Not thread-safe: build a model from one thread.
 *
 * <pre>{@code
 * byte[] model = OnnxModelBuilder.create("cast")
 *     .input("INPUT0", DataType.INT32, -1, -1)
 *     .output("OUTPUT0", DataType.FP32, -1, -1)
 *     .node("Cast", List.of("INPUT0"), List.of("OUTPUT0"), OnnxModelBuilder.intAttr("to", 1))
 *     .build();
 * }</pre>
 */
public final class OnnxModelBuilder {
  /** A dimension of any size. */
  public static final long DYNAMIC = -1;

  /** The default operator set version of the standard ONNX domain. */
  public static final int DEFAULT_OPSET = 17;

  /** The default IR version (8: ONNX 1.10+, read by every current ONNX Runtime). */
  public static final long DEFAULT_IR_VERSION = 8;

  private final String graphName;
  private int opset = DEFAULT_OPSET;
  private long irVersion = DEFAULT_IR_VERSION;
  private final List<ValueInfoProto> inputs = new ArrayList<>();
  private final List<ValueInfoProto> outputs = new ArrayList<>();
  private final List<NodeProto> nodes = new ArrayList<>();
  private final List<TensorProto> initializers = new ArrayList<>();

  /** The {@code ai.onnx.ml} operator set version imported, or 0: no ML-domain node. */
  private int mlOpset;

  /** The ONNX domain of the traditional machine-learning operators (scikit-learn's converters). */
  public static final String ML_DOMAIN = "ai.onnx.ml";

  private OnnxModelBuilder(String graphName) {
    this.graphName = Objects.requireNonNull(graphName, "graphName");
  }

  /** Starts a model whose graph has the given name. */
  public static OnnxModelBuilder create(String graphName) {
    return new OnnxModelBuilder(graphName);
  }

  /** Sets the standard-domain operator set version (default {@value #DEFAULT_OPSET}). */
  public OnnxModelBuilder opset(int version) {
    this.opset = version;
    return this;
  }

  /** Sets the ONNX IR version (default {@value #DEFAULT_IR_VERSION}). */
  public OnnxModelBuilder irVersion(long version) {
    this.irVersion = version;
    return this;
  }

  /** Declares a graph input; an empty shape is a scalar, -1 a dynamic dimension. */
  public OnnxModelBuilder input(String name, DataType type, long... shape) {
    inputs.add(valueInfo(name, onnxType(type), shape));
    return this;
  }

  /** Declares a graph output; an empty shape is a scalar, -1 a dynamic dimension. */
  public OnnxModelBuilder output(String name, DataType type, long... shape) {
    outputs.add(valueInfo(name, onnxType(type), shape));
    return this;
  }

  /**
   * Names the dynamic dimensions of a declared input or output (ONNX {@code dim_param}s), one name
   * per axis from the first; a null name keeps the default ({@code <tensor>_d<axis>}). Two tensors
   * given one name declare that dimension the same size on both.
   */
  public OnnxModelBuilder dimNames(String tensor, String... names) {
    for (List<ValueInfoProto> list : List.of(inputs, outputs)) {
      for (int i = 0; i < list.size(); i++) {
        ValueInfoProto v = list.get(i);
        if (!v.getName().equals(tensor)) {
          continue;
        }
        ValueInfoProto.Builder b = v.toBuilder();
        TensorShapeProto.Builder shape =
            b.getTypeBuilder().getTensorTypeBuilder().getShapeBuilder();
        for (int axis = 0; axis < names.length && axis < shape.getDimCount(); axis++) {
          if (names[axis] != null && shape.getDim(axis).hasDimParam()) {
            shape.getDimBuilder(axis).setDimParam(names[axis]);
          }
        }
        list.set(i, b.build());
        return this;
      }
    }
    throw new IllegalArgumentException("no input or output named '" + tensor + "'");
  }

  /** Adds a standard-domain node; its name is derived from its position in the graph. */
  public OnnxModelBuilder node(
      String opType, List<String> inputNames, List<String> outputNames, Attribute... attributes) {
    NodeProto.Builder node =
        NodeProto.newBuilder()
            .setName(opType.toLowerCase(Locale.ROOT) + "_" + nodes.size())
            .setOpType(opType)
            .addAllInput(inputNames)
            .addAllOutput(outputNames);
    for (Attribute a : attributes) {
      node.addAttribute(a.proto());
    }
    nodes.add(node.build());
    return this;
  }

  /**
   * Adds a node of the {@code ai.onnx.ml} domain (LinearClassifier, ZipMap, OneHotEncoder, ...), as
   * skl2onnx writes them, and imports that domain's operator set 3.
   */
  public OnnxModelBuilder mlNode(
      String opType, List<String> inputNames, List<String> outputNames, Attribute... attributes) {
    node(opType, inputNames, outputNames, attributes);
    int last = nodes.size() - 1;
    nodes.set(last, nodes.get(last).toBuilder().setDomain(ML_DOMAIN).build());
    mlOpset = 3;
    return this;
  }

  /**
   * Declares a graph output that is a sequence of maps from {@code keyType} (INT64 or BYTES) to
   * FP32 scalars: the output of a ZipMap node, {@code seq(map(int64, float))}.
   */
  public OnnxModelBuilder probabilityMapsOutput(String name, DataType keyType) {
    TypeProto value =
        TypeProto.newBuilder()
            .setTensorType(
                TypeProto.Tensor.newBuilder()
                    .setElemType(TensorProto.DataType.FLOAT_VALUE)
                    .setShape(TensorShapeProto.newBuilder()))
            .build();
    TypeProto map =
        TypeProto.newBuilder()
            .setMapType(
                TypeProto.Map.newBuilder()
                    .setKeyType(onnxType(keyType).getNumber())
                    .setValueType(value))
            .build();
    outputs.add(
        ValueInfoProto.newBuilder()
            .setName(Objects.requireNonNull(name, "name"))
            .setType(
                TypeProto.newBuilder()
                    .setSequenceType(TypeProto.Sequence.newBuilder().setElemType(map)))
            .build());
    return this;
  }

  /** Adds a constant FLOAT tensor (an initializer) that nodes can use as an input. */
  public OnnxModelBuilder floatInitializer(String name, long[] dims, float... values) {
    checkCount(name, dims, values.length);
    TensorProto.Builder t =
        TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE);
    for (long d : dims) {
      t.addDims(d);
    }
    for (float v : values) {
      t.addFloatData(v);
    }
    initializers.add(t.build());
    return this;
  }

  /**
   * Adds a FLOAT initializer whose values are in an external data file, as {@code
   * onnx.save_model(..., save_as_external_data=True)} writes them: {@code location} relative to the
   * model's folder, the tensor's little-endian floats at {@code offset}. The caller writes that
   * file.
   */
  public OnnxModelBuilder externalFloatInitializer(
      String name, long[] dims, String location, long offset) {
    long n = 1;
    for (long d : dims) {
      n = Math.multiplyExact(n, d);
    }
    TensorProto.Builder t =
        TensorProto.newBuilder()
            .setName(name)
            .setDataType(TensorProto.DataType.FLOAT_VALUE)
            .setDataLocation(TensorProto.DataLocation.EXTERNAL);
    for (long d : dims) {
      t.addDims(d);
    }
    t.addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue(location));
    t.addExternalData(
        StringStringEntryProto.newBuilder().setKey("offset").setValue(Long.toString(offset)));
    t.addExternalData(
        StringStringEntryProto.newBuilder().setKey("length").setValue(Long.toString(n * 4)));
    initializers.add(t.build());
    return this;
  }

  /** Adds a constant INT64 tensor (an initializer) that nodes can use as an input. */
  public OnnxModelBuilder longInitializer(String name, long[] dims, long... values) {
    checkCount(name, dims, values.length);
    TensorProto.Builder t =
        TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT64_VALUE);
    for (long d : dims) {
      t.addDims(d);
    }
    for (long v : values) {
      t.addInt64Data(v);
    }
    initializers.add(t.build());
    return this;
  }

  /** The model as an ONNX protobuf message. */
  public ModelProto toProto() {
    GraphProto graph =
        GraphProto.newBuilder()
            .setName(graphName)
            .addAllNode(nodes)
            .addAllInitializer(initializers)
            .addAllInput(inputs)
            .addAllOutput(outputs)
            .build();
    return ModelProto.newBuilder()
        .setIrVersion(irVersion)
        .setProducerName("fulcrum-testkit")
        .setProducerVersion("1")
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
        .addAllOpsetImport(
            mlOpset == 0
                ? List.of()
                : List.of(
                    OperatorSetIdProto.newBuilder()
                        .setDomain(ML_DOMAIN)
                        .setVersion(mlOpset)
                        .build()))
        .setGraph(graph)
        .build();
  }

  /** The serialized model (the bytes of a {@code model.onnx} file). */
  public byte[] build() {
    return toProto().toByteArray();
  }

  /** Writes the serialized model to {@code file}, creating its parent folders. */
  public Path write(Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.write(file, build());
    return file;
  }

  /** An integer attribute ({@code INT}). */
  public static Attribute intAttr(String name, long value) {
    return new Attribute(
        AttributeProto.newBuilder()
            .setName(name)
            .setType(AttributeProto.AttributeType.INT)
            .setI(value)
            .build());
  }

  /** A float attribute ({@code FLOAT}). */
  public static Attribute floatAttr(String name, float value) {
    return new Attribute(
        AttributeProto.newBuilder()
            .setName(name)
            .setType(AttributeProto.AttributeType.FLOAT)
            .setF(value)
            .build());
  }

  /** An integer list attribute ({@code INTS}). */
  public static Attribute intsAttr(String name, long... values) {
    AttributeProto.Builder a =
        AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long v : values) {
      a.addInts(v);
    }
    return new Attribute(a.build());
  }

  /** A float list attribute ({@code FLOATS}). */
  public static Attribute floatsAttr(String name, float... values) {
    AttributeProto.Builder a =
        AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOATS);
    for (float v : values) {
      a.addFloats(v);
    }
    return new Attribute(a.build());
  }

  /** A string list attribute ({@code STRINGS}, UTF-8). */
  public static Attribute stringsAttr(String name, String... values) {
    AttributeProto.Builder a =
        AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRINGS);
    for (String v : values) {
      a.addStrings(ByteString.copyFrom(v, StandardCharsets.UTF_8));
    }
    return new Attribute(a.build());
  }

  /** A string attribute ({@code STRING}, UTF-8). */
  public static Attribute stringAttr(String name, String value) {
    return new Attribute(
        AttributeProto.newBuilder()
            .setName(name)
            .setType(AttributeProto.AttributeType.STRING)
            .setS(ByteString.copyFrom(value, StandardCharsets.UTF_8))
            .build());
  }

  /**
   * The ONNX {@code TensorProto.DataType} of a Fulcrum datatype: BYTES is STRING, FP16 FLOAT16,
   * BF16 BFLOAT16, FP32 FLOAT, FP64 DOUBLE, and the integer and BOOL types keep their names.
   */
  public static TensorProto.DataType onnxType(DataType type) {
    return switch (type) {
      case BOOL -> TensorProto.DataType.BOOL;
      case UINT8 -> TensorProto.DataType.UINT8;
      case UINT16 -> TensorProto.DataType.UINT16;
      case UINT32 -> TensorProto.DataType.UINT32;
      case UINT64 -> TensorProto.DataType.UINT64;
      case INT8 -> TensorProto.DataType.INT8;
      case INT16 -> TensorProto.DataType.INT16;
      case INT32 -> TensorProto.DataType.INT32;
      case INT64 -> TensorProto.DataType.INT64;
      case FP16 -> TensorProto.DataType.FLOAT16;
      case BF16 -> TensorProto.DataType.BFLOAT16;
      case FP32 -> TensorProto.DataType.FLOAT;
      case FP64 -> TensorProto.DataType.DOUBLE;
      case BYTES -> TensorProto.DataType.STRING;
    };
  }

  private static ValueInfoProto valueInfo(String name, TensorProto.DataType type, long[] shape) {
    Objects.requireNonNull(name, "name");
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (int i = 0; i < shape.length; i++) {
      long d = shape[i];
      if (d == DYNAMIC) {
        s.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(name + "_d" + i));
      } else if (d >= 0) {
        s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
      } else {
        throw new IllegalArgumentException(
            "dimension " + i + " of '" + name + "' is " + d + "; use >= 0 or -1 (dynamic)");
      }
    }
    TypeProto.Tensor tensor =
        TypeProto.Tensor.newBuilder().setElemType(type.getNumber()).setShape(s).build();
    return ValueInfoProto.newBuilder()
        .setName(name)
        .setType(TypeProto.newBuilder().setTensorType(tensor))
        .build();
  }

  private static void checkCount(String name, long[] dims, int count) {
    long n = 1;
    for (long d : dims) {
      if (d < 0) {
        throw new IllegalArgumentException("initializer '" + name + "' has a negative dimension");
      }
      n = Math.multiplyExact(n, d);
    }
    if (n != count) {
      throw new IllegalArgumentException(
          "initializer '" + name + "' needs " + n + " values but got " + count);
    }
  }

  /** A node attribute; make one with the static factories of {@link OnnxModelBuilder}. */
  public static final class Attribute {
    private final AttributeProto proto;

    private Attribute(AttributeProto proto) {
      this.proto = proto;
    }

    AttributeProto proto() {
      return proto;
    }

    public String name() {
      return proto.getName();
    }
  }
}
