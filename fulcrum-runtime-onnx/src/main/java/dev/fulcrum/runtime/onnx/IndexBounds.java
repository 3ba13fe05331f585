package dev.fulcrum.runtime.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import dev.fulcrum.core.runtime.ModelSignature;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the graph inputs that are indices into a table of known size, so that the core can refuse
 * an out-of-range index with a 400 before the request reaches the engine (where it would fail the
 * whole batch it joined).
 *
 * <p>An input is bounded when it feeds the indices of a {@code Gather} — directly, or through ops
 * that keep its values ({@code Cast}, {@code Identity}, {@code Unsqueeze}, {@code Squeeze}, {@code
 * Reshape}, {@code Flatten}) — whose data is an initializer, or a {@code DequantizeLinear} / {@code
 * Cast} / {@code Identity} of an initializer (quantized embeddings): the bound is that tensor's
 * size along the {@code Gather}'s axis (for MiniLM's {@code input_ids}, the 30522 rows of its word
 * embeddings), and the valid values are {@code -n..n-1}, as ONNX's {@code Gather} defines them (a
 * negative index counts from the end). Several gathers give the smallest bound.
 *
 * <p>A dimension of an input is bounded when the graph makes the indices of such a {@code Gather}
 * from its size, as BERT-style exports make position ids: {@code Shape(input_ids)}, then a {@code
 * Gather} (or {@code Slice}) of one of its constant positions, then either a {@code Range(start,
 * size, 1)} (the bound is the table's size along the axis: positions past it are out of the table)
 * or the {@code Slice} of a constant {@code position_ids} tensor up to that size (the bound is the
 * tensor's length along the sliced axis: past it the slice comes out short, and the pass fails
 * where its rows meet the sequence's). For MiniLM's {@code input_ids}, dimension 1 is at most 512.
 * Any other shape of graph (a position offset, an unknown op, a non-constant start) gives no
 * dimension bound.
 *
 * <p>The model file is read with protobuf's wire-format reader, keeping only node wiring,
 * initializer names and dims, and graph input names (tensor bytes are skipped). Anything unreadable
 * (a model over 2 GiB, an unknown layout) gives no bounds, never a load failure. Stateless;
 * thread-safe.
 */
final class IndexBounds {
  private static final Logger log = LoggerFactory.getLogger(IndexBounds.class);

  private static final Set<String> VALUE_PRESERVING =
      Set.of("Cast", "Identity", "Unsqueeze", "Squeeze", "Reshape", "Flatten");
  private static final Set<String> TABLE_PRESERVING =
      Set.of("DequantizeLinear", "Cast", "Identity");

  /** Ops whose output has the values of their first input (some of them, or repeated). */
  private static final Set<String> POSITION_PRESERVING =
      Set.of("Cast", "Identity", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Expand");

  /** Ops that keep the value of a scalar or one-element tensor. */
  private static final Set<String> SCALAR_PRESERVING =
      Set.of("Cast", "Identity", "Unsqueeze", "Squeeze", "Reshape", "Flatten");

  /** Small integer tensors (slice starts, axes, a shape's position) are kept up to this length. */
  private static final int MAX_VALUES = 16;

  private IndexBounds() {}

  /** What the graph bounds: input values, and input dimensions. */
  record Found(
      List<ModelSignature.IndexBound> values, List<ModelSignature.DimensionBound> dimensions) {
    static final Found NONE = new Found(List.of(), List.of());

    Found {
      values = List.copyOf(values);
      dimensions = List.copyOf(dimensions);
    }
  }

  /**
   * A node, with its integer attributes ({@code i}, {@code ints}, or a small integer tensor {@code
   * t}, as its values) and the dims of a tensor attribute ({@code Constant}'s {@code value}).
   */
  private record Node(
      String opType,
      List<String> inputs,
      List<String> outputs,
      Map<String, long[]> ints,
      long @Nullable [] tensorDims) {
    long attr(String name, long otherwise) {
      long[] v = ints.get(name);
      return v != null && v.length == 1 ? v[0] : otherwise;
    }

    /** Input {@code i}, or null if the node has none there (absent, or named ""). */
    @Nullable String input(int i) {
      return i < inputs.size() && !inputs.get(i).isEmpty() ? inputs.get(i) : null;
    }
  }

  /** A tensor's name and dims, and its integer values if it is a small integer tensor. */
  private record TensorInfo(@Nullable String name, long[] dims, long @Nullable [] values) {}

  private static final class Graph {
    final List<Node> nodes = new ArrayList<>();
    final Map<String, long[]> initializerDims = new HashMap<>();
    final Map<String, long[]> initializerValues = new HashMap<>();
    final Set<String> inputs = new HashSet<>();
    final Map<String, Node> producer = new HashMap<>();
  }

  /**
   * The bounded inputs of the model in {@code file}, by graph input name, and their bounded
   * dimensions; none if none or unknown.
   */
  static Found of(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      CodedInputStream c = CodedInputStream.newInstance(in, 1 << 16);
      c.setSizeLimit(Integer.MAX_VALUE);
      Graph g = readModel(c);
      return bounds(g);
    } catch (IOException | RuntimeException e) {
      log.debug("cannot read the graph of {} for index bounds: {}", file, e.toString());
      return Found.NONE;
    }
  }

  private static Found bounds(Graph g) {
    for (Node n : g.nodes) {
      for (String out : n.outputs) {
        g.producer.put(out, n);
      }
    }
    Map<String, Node> producer = g.producer;
    Map<String, Long> found = new LinkedHashMap<>();
    Map<ModelSignature.DimensionUse, Long> dimensions = new LinkedHashMap<>();
    for (Node n : g.nodes) {
      if (!n.opType.equals("Gather") || n.inputs.size() < 2) {
        continue;
      }
      long[] dims = tableDims(n.inputs.get(0), g, producer);
      if (dims == null || dims.length == 0) {
        continue;
      }
      long gatherAxis = n.attr("axis", 0);
      long axis = gatherAxis < 0 ? gatherAxis + dims.length : gatherAxis;
      if (axis < 0 || axis >= dims.length || dims[(int) axis] <= 0) {
        continue;
      }
      positionBound(n.inputs.get(1), dims[(int) axis], g)
          .ifPresent(b -> dimensions.merge(b.use(), b.max(), Math::min));
      String source = n.inputs.get(1);
      for (int hops = 0; hops < 16 && !g.inputs.contains(source); hops++) {
        Node p = producer.get(source);
        if (p == null || !VALUE_PRESERVING.contains(p.opType) || p.inputs.isEmpty()) {
          source = null;
          break;
        }
        source = p.inputs.get(0);
      }
      if (source != null && g.inputs.contains(source) && !g.initializerDims.containsKey(source)) {
        found.merge(source, dims[(int) axis], Math::min);
      }
    }
    List<ModelSignature.IndexBound> out = new ArrayList<>();
    // Gather takes -n..n-1: a negative index counts from the end of the axis.
    found.forEach((name, n) -> out.add(new ModelSignature.IndexBound(name, -n, n)));
    List<ModelSignature.DimensionBound> dims = new ArrayList<>();
    dimensions.forEach(
        (use, max) -> dims.add(new ModelSignature.DimensionBound(use.input(), use.axis(), max)));
    return new Found(out, dims);
  }

  private record Bound(ModelSignature.DimensionUse use, long max) {}

  /**
   * The bound on an input's dimension that {@code indices}, the indices of a {@code Gather} on a
   * table of {@code rows} along its axis, tells: they are made from that dimension's size by a
   * {@code Range(start, size, 1)} with {@code 0 <= start < rows} (bound: {@code rows}), or are the
   * {@code Slice} of a constant tensor up to that size (bound: the tensor's length on the sliced
   * axis), reached through ops that keep values.
   */
  private static Optional<Bound> positionBound(String indices, long rows, Graph g) {
    String name = indices;
    for (int hops = 0; hops < 16; hops++) {
      if (g.inputs.contains(name)) {
        return Optional.empty();
      }
      Node p = g.producer.get(name);
      if (p == null) {
        return Optional.empty();
      }
      if (POSITION_PRESERVING.contains(p.opType) && !p.inputs.isEmpty()) {
        name = p.inputs.get(0);
        continue;
      }
      if (p.opType.equals("Range") && p.inputs.size() == 3) {
        long[] start = constant(p.inputs.get(0), g);
        long[] delta = constant(p.inputs.get(2), g);
        ModelSignature.DimensionUse use = dimensionOf(p.inputs.get(1), g);
        if (use != null
            && start != null
            && start.length == 1
            && start[0] >= 0
            && start[0] < rows
            && delta != null
            && delta.length == 1
            && delta[0] == 1) {
          return Optional.of(new Bound(use, rows));
        }
        return Optional.empty();
      }
      if (p.opType.equals("Slice") && p.inputs.size() >= 3) {
        return sliceBound(p, g);
      }
      return Optional.empty();
    }
    return Optional.empty();
  }

  /**
   * A {@code Slice(data, starts, ends[, axes[, steps]])} of a constant {@code data} on one axis,
   * from a constant start {@code >= 0} with step 1, up to an input's dimension: that dimension is
   * at most {@code data}'s length on the axis (if over 1).
   */
  private static Optional<Bound> sliceBound(Node slice, Graph g) {
    long[] data = constantDims(slice.inputs.get(0), g);
    long[] starts = constant(slice.inputs.get(1), g);
    ModelSignature.DimensionUse use = dimensionOf(slice.inputs.get(2), g);
    if (data == null || starts == null || starts.length != 1 || starts[0] < 0 || use == null) {
      return Optional.empty();
    }
    long axis = 0;
    String axes = slice.input(3);
    if (axes != null) {
      long[] a = constant(axes, g);
      if (a == null || a.length != 1) {
        return Optional.empty();
      }
      axis = a[0] < 0 ? a[0] + data.length : a[0];
    }
    String steps = slice.input(4);
    if (steps != null) {
      long[] s = constant(steps, g);
      if (s == null || s.length != 1 || s[0] != 1) {
        return Optional.empty();
      }
    }
    // One position broadcasts over any length: a short slice then fails nothing.
    if (axis < 0 || axis >= data.length || data[(int) axis] <= 1) {
      return Optional.empty();
    }
    return Optional.of(new Bound(use, data[(int) axis]));
  }

  /**
   * The input dimension whose size {@code name} (a scalar or one-element tensor) holds: a {@code
   * Gather} at a constant position, or a one-element {@code Slice}, of the {@code Shape} of a graph
   * input, through ops that keep the value; or null.
   */
  private static ModelSignature.@Nullable DimensionUse dimensionOf(String name, Graph g) {
    for (int hops = 0; hops < 16; hops++) {
      Node p = g.producer.get(name);
      if (p == null || g.inputs.contains(name)) {
        return null;
      }
      if (SCALAR_PRESERVING.contains(p.opType) && !p.inputs.isEmpty()) {
        name = p.inputs.get(0);
        continue;
      }
      if (p.opType.equals("Gather") && p.inputs.size() == 2 && p.attr("axis", 0) == 0) {
        long[] k = constant(p.inputs.get(1), g);
        return k != null && k.length == 1 ? shapeDimension(p.inputs.get(0), k[0], g) : null;
      }
      if (p.opType.equals("Slice")) {
        return sliceOfShape(p, g);
      }
      return null;
    }
    return null;
  }

  /** A {@code Slice} of one element {@code [k, k+1)}, on axis 0, step 1, of a shape; or null. */
  private static ModelSignature.@Nullable DimensionUse sliceOfShape(Node slice, Graph g) {
    long[] starts;
    long[] ends;
    long[] axes = null;
    long[] steps = null;
    if (slice.inputs.size() == 1) { // opset < 10: attributes
      starts = slice.ints.get("starts");
      ends = slice.ints.get("ends");
      axes = slice.ints.get("axes");
    } else if (slice.inputs.size() >= 3) {
      starts = constant(slice.inputs.get(1), g);
      ends = constant(slice.inputs.get(2), g);
      String a = slice.input(3);
      String s = slice.input(4);
      if (a != null) {
        axes = constant(a, g);
        if (axes == null) {
          return null;
        }
      }
      if (s != null) {
        steps = constant(s, g);
        if (steps == null) {
          return null;
        }
      }
    } else {
      return null;
    }
    if (starts == null
        || ends == null
        || starts.length != 1
        || ends.length != 1
        || starts[0] < 0
        || ends[0] != starts[0] + 1
        || (axes != null && (axes.length != 1 || (axes[0] != 0 && axes[0] != -1)))
        || (steps != null && (steps.length != 1 || steps[0] != 1))) {
      return null;
    }
    return shapeDimension(slice.inputs.get(0), starts[0], g);
  }

  /**
   * Dimension {@code k} of the shape {@code name}, the output of a {@code Shape} of a graph input
   * (through {@code Cast} or {@code Identity}, which keep the shape); or null.
   */
  private static ModelSignature.@Nullable DimensionUse shapeDimension(
      String name, long k, Graph g) {
    Node shape = g.producer.get(name);
    if (shape == null || !shape.opType.equals("Shape") || shape.inputs.isEmpty() || k < 0) {
      return null;
    }
    long start = shape.attr("start", 0);
    if (start < 0 || start + k > 64) {
      return null;
    }
    String source = shape.inputs.get(0);
    for (int hops = 0; hops < 16 && !g.inputs.contains(source); hops++) {
      Node p = g.producer.get(source);
      if (p == null || !(p.opType.equals("Cast") || p.opType.equals("Identity"))) {
        return null;
      }
      source = p.inputs.get(0);
    }
    if (!g.inputs.contains(source) || g.initializerDims.containsKey(source)) {
      return null;
    }
    return new ModelSignature.DimensionUse(source, (int) (start + k));
  }

  /** The values of a small constant integer tensor: an initializer or a Constant's; or null. */
  private static long @Nullable [] constant(String name, Graph g) {
    if (g.inputs.contains(name)) {
      return null; // an initializer that is also a graph input can be overridden
    }
    long[] v = g.initializerValues.get(name);
    if (v != null) {
      return v;
    }
    Node p = g.producer.get(name);
    if (p == null || !p.opType.equals("Constant")) {
      return null;
    }
    v = p.ints.get("value");
    if (v == null) {
      v = p.ints.get("value_int");
    }
    if (v == null) {
      v = p.ints.get("value_ints");
    }
    return v;
  }

  /** The dims of a constant tensor: an initializer or a Constant's {@code value}; or null. */
  private static long @Nullable [] constantDims(String name, Graph g) {
    if (g.inputs.contains(name)) {
      return null;
    }
    long[] dims = g.initializerDims.get(name);
    if (dims != null) {
      return dims;
    }
    Node p = g.producer.get(name);
    return p != null && p.opType.equals("Constant") ? p.tensorDims : null;
  }

  private static long @Nullable [] tableDims(String name, Graph g, Map<String, Node> producer) {
    for (int hops = 0; hops < 4; hops++) {
      long[] dims = g.initializerDims.get(name);
      if (dims != null) {
        return dims;
      }
      Node p = producer.get(name);
      if (p == null || !TABLE_PRESERVING.contains(p.opType) || p.inputs.isEmpty()) {
        return null;
      }
      name = p.inputs.get(0);
    }
    return null;
  }

  // ---- onnx.proto, by field number -----------------------------------------------------------

  private static Graph readModel(CodedInputStream c) throws IOException {
    Graph g = new Graph();
    int tag;
    while ((tag = c.readTag()) != 0) {
      if (WireFormat.getTagFieldNumber(tag) == 7) { // ModelProto.graph
        int limit = c.pushLimit(c.readRawVarint32());
        readGraph(c, g);
        c.popLimit(limit);
      } else {
        c.skipField(tag);
      }
    }
    return g;
  }

  private static void readGraph(CodedInputStream c, Graph g) throws IOException {
    int tag;
    while ((tag = c.readTag()) != 0) {
      switch (WireFormat.getTagFieldNumber(tag)) {
        case 1 -> { // node
          int limit = c.pushLimit(c.readRawVarint32());
          g.nodes.add(readNode(c));
          c.popLimit(limit);
        }
        case 5 -> { // initializer
          int limit = c.pushLimit(c.readRawVarint32());
          readInitializer(c, g);
          c.popLimit(limit);
        }
        case 11 -> { // input (ValueInfoProto)
          int limit = c.pushLimit(c.readRawVarint32());
          int t;
          while ((t = c.readTag()) != 0) {
            if (WireFormat.getTagFieldNumber(t) == 1) {
              g.inputs.add(c.readString());
            } else {
              c.skipField(t);
            }
          }
          c.popLimit(limit);
        }
        default -> c.skipField(tag);
      }
    }
  }

  private static Node readNode(CodedInputStream c) throws IOException {
    List<String> inputs = new ArrayList<>();
    List<String> outputs = new ArrayList<>();
    String opType = "";
    Map<String, long[]> ints = new HashMap<>();
    long[] tensorDims = null;
    int tag;
    while ((tag = c.readTag()) != 0) {
      switch (WireFormat.getTagFieldNumber(tag)) {
        case 1 -> inputs.add(c.readString());
        case 2 -> outputs.add(c.readString());
        case 4 -> opType = c.readString();
        case 5 -> { // attribute
          int limit = c.pushLimit(c.readRawVarint32());
          String name = "";
          long[] value = null;
          List<Long> list = new ArrayList<>();
          TensorInfo tensor = null;
          int t;
          while ((t = c.readTag()) != 0) {
            switch (WireFormat.getTagFieldNumber(t)) {
              case 1 -> name = c.readString();
              case 3 -> value = new long[] {c.readInt64()};
              case 5 -> { // t
                int l = c.pushLimit(c.readRawVarint32());
                tensor = readTensor(c);
                c.popLimit(l);
              }
              case 8 -> readInts(c, t, list); // ints
              default -> c.skipField(t);
            }
          }
          c.popLimit(limit);
          if (tensor != null) {
            tensorDims = tensor.dims();
            value = tensor.values();
          } else if (value == null && !list.isEmpty() && list.size() <= MAX_VALUES) {
            value = list.stream().mapToLong(Long::longValue).toArray();
          }
          if (value != null) {
            ints.put(name, value);
          }
        }
        default -> c.skipField(tag);
      }
    }
    return new Node(opType, inputs, outputs, ints, tensorDims);
  }

  /** One repeated int64 entry, packed or not. */
  private static void readInts(CodedInputStream c, int tag, List<Long> into) throws IOException {
    if (WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
      int limit = c.pushLimit(c.readRawVarint32());
      while (c.getBytesUntilLimit() > 0) {
        into.add(c.readInt64());
      }
      c.popLimit(limit);
    } else {
      into.add(c.readInt64());
    }
  }

  private static void readInitializer(CodedInputStream c, Graph g) throws IOException {
    TensorInfo t = readTensor(c);
    if (t.name() != null) {
      g.initializerDims.put(t.name(), t.dims());
      if (t.values() != null) {
        g.initializerValues.put(t.name(), t.values());
      }
    }
  }

  /**
   * A TensorProto: its name, dims, and its values if it is an INT64 or INT32 tensor of at most
   * {@link #MAX_VALUES} elements (larger raw data is skipped unread).
   */
  private static TensorInfo readTensor(CodedInputStream c) throws IOException {
    List<Long> dims = new ArrayList<>();
    List<Long> typed = new ArrayList<>();
    String name = null;
    int type = 0;
    byte[] raw = null;
    int tag;
    while ((tag = c.readTag()) != 0) {
      switch (WireFormat.getTagFieldNumber(tag)) {
        case 1 -> readInts(c, tag, dims);
        case 2 -> type = c.readInt32();
        case 5, 7 -> { // int32_data, int64_data: kept while small
          boolean packed = WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED;
          if (typed.size() > MAX_VALUES) {
            c.skipField(tag);
          } else if (packed) {
            int length = c.readRawVarint32();
            if (length > MAX_VALUES * 10) {
              c.skipRawBytes(length);
              typed.add(0L); // more than MAX_VALUES: the values are not kept
              typed.addAll(Collections.nCopies(MAX_VALUES, 0L));
            } else {
              int limit = c.pushLimit(length);
              while (c.getBytesUntilLimit() > 0) {
                typed.add(c.readInt64());
              }
              c.popLimit(limit);
            }
          } else {
            typed.add(c.readInt64());
          }
        }
        case 8 -> name = c.readString();
        case 9 -> { // raw_data
          int length = c.readRawVarint32();
          if (length <= MAX_VALUES * 8) {
            raw = c.readRawBytes(length);
          } else {
            c.skipRawBytes(length);
          }
        }
        default -> c.skipField(tag);
      }
    }
    long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
    long count = 1;
    for (long d : shape) {
      count = d < 0 || count > MAX_VALUES ? MAX_VALUES + 1 : count * d;
    }
    long[] values = null;
    if ((type == 7 || type == 6) && count <= MAX_VALUES) { // INT64, INT32
      if (raw != null) {
        int width = type == 7 ? 8 : 4;
        if (raw.length == count * width) {
          java.nio.ByteBuffer b =
              java.nio.ByteBuffer.wrap(raw).order(java.nio.ByteOrder.LITTLE_ENDIAN);
          values = new long[(int) count];
          for (int i = 0; i < count; i++) {
            values[i] = width == 8 ? b.getLong() : b.getInt();
          }
        }
      } else if (typed.size() == count) {
        values = typed.stream().mapToLong(Long::longValue).toArray();
      }
    }
    return new TensorInfo(name, shape, values);
  }
}
