package dev.fulcrum.runtime.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * The external data files a model's initializers name ({@code TensorProto.external_data}'s {@code
 * location}, relative to the model's folder): what PyTorch's exporter writes beside a model over 2
 * GiB, and {@code onnx.save_model(..., save_as_external_data=True)} beside any. Their bytes are
 * part of the model: re-exporting a retrained network of the same architecture rewrites only them
 * and leaves {@code model.onnx} byte for byte the same.
 *
 * <p>The file is read with protobuf's wire-format reader, skipping tensor bytes; the main graph's
 * initializers are looked at (where the exporters put external data). Stateless; thread-safe.
 */
final class ExternalData {
  private ExternalData() {}

  /**
   * The locations the main graph's initializers name, distinct and sorted; empty when none has
   * external data.
   *
   * @throws IOException when the file cannot be read as an ONNX model
   */
  static List<String> locations(Path model) throws IOException {
    Set<String> out = new TreeSet<>();
    try (InputStream in = Files.newInputStream(model)) {
      CodedInputStream c = CodedInputStream.newInstance(in, 1 << 16);
      c.setSizeLimit(Integer.MAX_VALUE);
      int tag;
      while ((tag = c.readTag()) != 0) {
        if (WireFormat.getTagFieldNumber(tag) == 7) { // ModelProto.graph
          int limit = c.pushLimit(c.readRawVarint32());
          readGraph(c, out);
          c.popLimit(limit);
        } else {
          c.skipField(tag);
        }
      }
    }
    return List.copyOf(out);
  }

  private static void readGraph(CodedInputStream c, Set<String> out) throws IOException {
    int tag;
    while ((tag = c.readTag()) != 0) {
      if (WireFormat.getTagFieldNumber(tag) == 5) { // GraphProto.initializer
        int limit = c.pushLimit(c.readRawVarint32());
        readTensor(c, out);
        c.popLimit(limit);
      } else {
        c.skipField(tag);
      }
    }
  }

  private static void readTensor(CodedInputStream c, Set<String> out) throws IOException {
    int tag;
    while ((tag = c.readTag()) != 0) {
      if (WireFormat.getTagFieldNumber(tag) == 13) { // TensorProto.external_data
        int limit = c.pushLimit(c.readRawVarint32());
        String location = readLocation(c);
        if (location != null) {
          out.add(location);
        }
        c.popLimit(limit);
      } else {
        c.skipField(tag);
      }
    }
  }

  /** A StringStringEntryProto's value when its key is {@code location}, else null. */
  private static @Nullable String readLocation(CodedInputStream c) throws IOException {
    String key = null;
    String value = null;
    int tag;
    while ((tag = c.readTag()) != 0) {
      switch (WireFormat.getTagFieldNumber(tag)) {
        case 1 -> key = c.readString();
        case 2 -> value = c.readString();
        default -> c.skipField(tag);
      }
    }
    return "location".equals(key) ? value : null;
  }
}
