package dev.fulcrum.tools.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.ElementCodec;
import dev.fulcrum.core.tensor.Shapes;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.core.tensor.TensorSpec;
import dev.fulcrum.server.codec.InferRequestDecoder;
import dev.fulcrum.server.codec.Json;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.jspecify.annotations.Nullable;

/**
 * Builds the request samples of a run, either random data shaped and typed from the model's
 * metadata or requests read from an OIP JSON file; stateless, thread-safe.
 */
final class InputGenerator {
  /** Integer inputs are drawn from [0, this): small, non-negative, valid as token ids. */
  static final int INT_BOUND = 1000;

  private InputGenerator() {}

  /**
   * Random samples. Dimension 0 of a batching model is {@code batchSize}; other dynamic dimensions
   * come from {@code shapes} (NAME → dims, either without the batch dimension or the full shape).
   * Inputs named like {@code *mask*} are all ones and {@code *type_ids*} all zeros, so BERT-like
   * models get valid values.
   */
  static List<Sample> random(
      ModelInfo model, Map<String, long[]> shapes, int batchSize, int count, long seed) {
    Random rnd = new Random(seed);
    List<long[]> resolved = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    for (TensorSpec in : model.inputs()) {
      long[] s = resolve(model, in, shapes.get(in.name()), batchSize);
      if (Arrays.stream(s).anyMatch(d -> d < 0)) {
        missing.add(in.name() + Arrays.toString(in.shape()));
      }
      resolved.add(s);
    }
    for (String name : shapes.keySet()) {
      if (model.inputs().stream().noneMatch(i -> i.name().equals(name))) {
        throw new IllegalArgumentException(
            "--shape names '" + name + "', which is not an input of " + model.name());
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException(
          "dynamic dimensions need a size: "
              + missing
              + "; give --shape NAME:dims (e.g. --shape "
              + model.inputs().get(0).name()
              + ":16, the sizes after the batch dimension)");
    }
    int batch = model.batching() ? (int) resolved.get(0)[0] : 1;
    List<Sample> out = new ArrayList<>();
    for (int n = 0; n < count; n++) {
      List<Tensor> tensors = new ArrayList<>();
      for (int i = 0; i < model.inputs().size(); i++) {
        TensorSpec in = model.inputs().get(i);
        tensors.add(randomTensor(in.name(), in.datatype(), resolved.get(i), rnd));
      }
      out.add(new Sample(tensors, batch));
    }
    return out;
  }

  static long[] resolve(ModelInfo model, TensorSpec in, long @Nullable [] given, int batchSize) {
    long[] declared = in.shape();
    long[] s = declared.clone();
    if (given != null) {
      if (given.length == declared.length) {
        s = given.clone();
      } else if (model.batching() && given.length == declared.length - 1) {
        s = new long[declared.length];
        s[0] = batchSize;
        System.arraycopy(given, 0, s, 1, given.length);
      } else {
        throw new IllegalArgumentException(
            "--shape "
                + in.name()
                + ":"
                + Arrays.toString(given)
                + " does not fit its declared shape "
                + Arrays.toString(declared));
      }
      for (int d = 0; d < declared.length; d++) {
        if (declared[d] >= 0 && s[d] != declared[d]) {
          throw new IllegalArgumentException(
              "--shape for " + in.name() + " changes fixed dimension " + d + " of " + in);
        }
      }
    } else if (model.batching() && declared.length > 0) {
      s[0] = batchSize;
    }
    if (model.batching() && s.length > 0 && s[0] > model.maxBatchSize()) {
      throw new IllegalArgumentException(
          "batch " + s[0] + " exceeds the model's max_batch_size " + model.maxBatchSize());
    }
    return s;
  }

  static Tensor randomTensor(String name, DataType type, long[] shape, Random rnd) {
    int n = Math.toIntExact(Shapes.elementCount(shape));
    String lower = name.toLowerCase(Locale.ROOT);
    long fixed = lower.contains("mask") ? 1 : lower.contains("type_ids") ? 0 : -1;
    if (type == DataType.BYTES) {
      List<byte[]> elements = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        char[] c = new char[1 + rnd.nextInt(16)];
        for (int j = 0; j < c.length; j++) {
          c[j] = (char) ('a' + rnd.nextInt(26));
        }
        elements.add(new String(c).getBytes(StandardCharsets.UTF_8));
      }
      return Tensor.ofBytes(name, shape, elements);
    }
    ByteBuffer b = ByteBuffer.allocate(n * type.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      long v = fixed >= 0 ? fixed : rnd.nextInt(INT_BOUND);
      switch (type) {
        case BOOL -> ElementCodec.putLong(type, b, i, fixed >= 0 ? fixed : rnd.nextInt(2));
        case UINT8, INT8 -> ElementCodec.putLong(type, b, i, fixed >= 0 ? fixed : rnd.nextInt(100));
        case FP64 -> ElementCodec.putDouble(type, b, i, rnd.nextDouble());
        case FP16, BF16, FP32 -> ElementCodec.putDouble(type, b, i, rnd.nextFloat());
        default -> ElementCodec.putLong(type, b, i, v);
      }
    }
    return Tensor.of(name, type, shape, b);
  }

  /**
   * Reads OIP JSON inference requests: one per line (JSONL) or one JSON array of them. The batch of
   * each is dimension 0 of its first input when the model batches.
   */
  static List<Sample> fromFile(ModelInfo model, Path file) throws IOException {
    String text = Files.readString(file).strip();
    List<JsonNode> requests = new ArrayList<>();
    if (text.startsWith("[")) {
      Json.MAPPER.readTree(text).forEach(requests::add);
    } else {
      for (String line : text.split("\n")) {
        if (!line.isBlank()) {
          requests.add(Json.MAPPER.readTree(line));
        }
      }
    }
    List<Sample> out = new ArrayList<>();
    for (int i = 0; i < requests.size(); i++) {
      byte[] body = Json.MAPPER.writeValueAsBytes(requests.get(i));
      try {
        List<Tensor> inputs =
            InferRequestDecoder.decode(
                    model.name(), "", Unpooled.wrappedBuffer(body), null, () -> null)
                .request()
                .inputs();
        int batch = model.batching() && inputs.get(0).rank() > 0 ? (int) inputs.get(0).dim(0) : 1;
        out.add(new Sample(inputs, batch));
      } catch (InferenceException e) {
        throw new IllegalArgumentException(file + ": request " + (i + 1) + ": " + e.getMessage());
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(file + " holds no requests");
    }
    return out;
  }
}
