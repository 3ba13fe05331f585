package dev.fulcrum.runtime.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import dev.fulcrum.core.runtime.ModelSignature;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

  private IndexBounds() {}

  private record Node(String opType, List<String> inputs, List<String> outputs, long axis) {}

  private static final class Graph {
    final List<Node> nodes = new ArrayList<>();
    final Map<String, long[]> initializerDims = new HashMap<>();
    final Set<String> inputs = new HashSet<>();
  }

  /**
   * The bounded inputs of the model in {@code file}, by graph input name; empty if none or unknown.
   */
  static List<ModelSignature.IndexBound> of(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      CodedInputStream c = CodedInputStream.newInstance(in, 1 << 16);
      c.setSizeLimit(Integer.MAX_VALUE);
      Graph g = readModel(c);
      return bounds(g);
    } catch (IOException | RuntimeException e) {
      log.debug("cannot read the graph of {} for index bounds: {}", file, e.toString());
      return List.of();
    }
  }

  private static List<ModelSignature.IndexBound> bounds(Graph g) {
    Map<String, Node> producer = new HashMap<>();
    for (Node n : g.nodes) {
      for (String out : n.outputs) {
        producer.put(out, n);
      }
    }
    Map<String, Long> found = new LinkedHashMap<>();
    for (Node n : g.nodes) {
      if (!n.opType.equals("Gather") || n.inputs.size() < 2) {
        continue;
      }
      long[] dims = tableDims(n.inputs.get(0), g, producer);
      if (dims == null || dims.length == 0) {
        continue;
      }
      long axis = n.axis < 0 ? n.axis + dims.length : n.axis;
      if (axis < 0 || axis >= dims.length || dims[(int) axis] <= 0) {
        continue;
      }
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
    return out;
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
    long axis = 0;
    int tag;
    while ((tag = c.readTag()) != 0) {
      switch (WireFormat.getTagFieldNumber(tag)) {
        case 1 -> inputs.add(c.readString());
        case 2 -> outputs.add(c.readString());
        case 4 -> opType = c.readString();
        case 5 -> { // attribute
          int limit = c.pushLimit(c.readRawVarint32());
          String name = "";
          long i = 0;
          int t;
          while ((t = c.readTag()) != 0) {
            switch (WireFormat.getTagFieldNumber(t)) {
              case 1 -> name = c.readString();
              case 3 -> i = c.readInt64();
              default -> c.skipField(t);
            }
          }
          c.popLimit(limit);
          if (name.equals("axis")) {
            axis = i;
          }
        }
        default -> c.skipField(tag);
      }
    }
    return new Node(opType, inputs, outputs, axis);
  }

  private static void readInitializer(CodedInputStream c, Graph g) throws IOException {
    List<Long> dims = new ArrayList<>();
    String name = null;
    int tag;
    while ((tag = c.readTag()) != 0) {
      int field = WireFormat.getTagFieldNumber(tag);
      if (field == 1 && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
        int limit = c.pushLimit(c.readRawVarint32()); // packed dims
        while (c.getBytesUntilLimit() > 0) {
          dims.add(c.readInt64());
        }
        c.popLimit(limit);
      } else if (field == 1) {
        dims.add(c.readInt64());
      } else if (field == 8) {
        name = c.readString();
      } else {
        c.skipField(tag);
      }
    }
    if (name != null) {
      g.initializerDims.put(name, dims.stream().mapToLong(Long::longValue).toArray());
    }
  }
}
