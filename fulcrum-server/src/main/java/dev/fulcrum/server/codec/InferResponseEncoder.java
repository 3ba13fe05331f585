package dev.fulcrum.server.codec;

import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.shm.SharedMemoryOutput;
import dev.fulcrum.server.shm.SharedMemoryTensors;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Encodes a core {@link InferenceResponse} as an OIP REST response body, with Triton's binary
 * tensor data extension for the outputs that ask for it.
 *
 * <p>Buffer ownership: the returned {@link EncodedResponse#body()} is a new buffer owned by the
 * caller (who hands it to Netty, which releases it after writing). The JSON header is written into
 * one buffer from the channel's allocator, allocated once at an upper bound of its size ({@link
 * #capacity}), by a {@link JsonBufferWriter} that formats numbers straight into it (no Jackson, no
 * {@code String} per element, {@link ShortestDecimal} for FP32/FP64); binary outputs are not
 * copied: the body is a composite of the header and {@link
 * Unpooled#wrappedBuffer(java.nio.ByteBuffer)} views of the output tensors' buffers, which the
 * tensors own and which are never written. Stateless and thread-safe.
 */
public final class InferResponseEncoder {
  private InferResponseEncoder() {}

  /** Past this the JSON part is allocated at this size and grows as written. */
  private static final int MAX_INITIAL_CAPACITY = 64 << 20;

  // The fixed text between the values, as bytes: copied whole instead of escaped a character at a
  // time (field names are ASCII without characters to escape, so the bytes are the same).
  private static final byte[] MODEL_NAME = ascii("{\"model_name\":");
  private static final byte[] MODEL_VERSION = ascii(",\"model_version\":");
  private static final byte[] ID = ascii(",\"id\":");
  private static final byte[] PARAMETERS = ascii(",\"parameters\":");
  private static final byte[] OUTPUTS = ascii(",\"outputs\":[");
  private static final byte[] OUTPUT_NAME = ascii("{\"name\":");
  private static final byte[] DATATYPE = ascii(",\"datatype\":");
  private static final byte[] SHAPE = ascii(",\"shape\":[");
  private static final byte[] BINARY_SIZE =
      ascii("],\"parameters\":{\"" + InferRequestDecoder.BINARY_DATA_SIZE + "\":");
  private static final byte[] DATA = ascii("],\"data\":");
  private static final byte[] SHM_REGION =
      ascii("],\"parameters\":{\"" + SharedMemoryTensors.REGION + "\":");
  private static final byte[] SHM_BYTE_SIZE = ascii(",\"" + SharedMemoryTensors.BYTE_SIZE + "\":");
  private static final byte[] SHM_OFFSET = ascii(",\"" + SharedMemoryTensors.OFFSET + "\":");

  /** Each datatype's name as a JSON string. */
  private static final Map<DataType, byte[]> DATATYPE_NAMES = datatypeNames();

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static Map<DataType, byte[]> datatypeNames() {
    Map<DataType, byte[]> names = new EnumMap<>(DataType.class);
    for (DataType t : DataType.values()) {
      names.put(t, ascii('"' + t.name() + '"'));
    }
    return Collections.unmodifiableMap(names);
  }

  /**
   * An encoded body.
   *
   * @param body the bytes to send
   * @param jsonLength the JSON header's length when binary data follows it, otherwise -1
   */
  public record EncodedResponse(ByteBuf body, int jsonLength) {
    public boolean hasBinary() {
      return jsonLength >= 0;
    }
  }

  public static EncodedResponse encode(
      DecodedInferRequest request, InferenceResponse response, ByteBufAllocator alloc) {
    List<ByteBuf> binary = new ArrayList<>();
    int capacity = capacity(request, response);
    ByteBuf header = alloc.buffer(capacity);
    Map<String, SharedMemoryOutput> shm = request.sharedMemoryOutputs();
    try {
      JsonBufferWriter w = new JsonBufferWriter(header);
      w.raw(MODEL_NAME);
      w.string(response.modelName());
      w.raw(MODEL_VERSION);
      w.string(response.modelVersion());
      if (!response.id().isEmpty()) {
        w.raw(ID);
        w.string(response.id());
      }
      RequestTiming timing = response.timing();
      if (!response.parameters().isEmpty() || timing != null) {
        w.raw(PARAMETERS);
        writeParameters(w, response.parameters(), timing);
      }
      w.raw(OUTPUTS);
      boolean first = true;
      for (Tensor t : response.outputs()) {
        if (!first) {
          w.raw(',');
        }
        first = false;
        w.raw(OUTPUT_NAME);
        w.string(t.name());
        w.raw(DATATYPE);
        w.raw(Objects.requireNonNull(DATATYPE_NAMES.get(t.datatype())));
        w.raw(SHAPE);
        for (int i = 0, rank = t.rank(); i < rank; i++) {
          if (i > 0) {
            w.raw(',');
          }
          w.number(t.dim(i));
        }
        SharedMemoryOutput placed = shm.isEmpty() ? null : shm.get(t.name());
        if (placed != null) {
          // Written into its region already (InferHandler); the answer says where, with no data.
          w.raw(SHM_REGION);
          w.string(placed.placement().region().name());
          w.raw(SHM_BYTE_SIZE);
          w.number(t.byteSize());
          if (placed.placement().offset() != 0) {
            w.raw(SHM_OFFSET);
            w.number(placed.placement().offset());
          }
          w.raw('}');
        } else if (sendBinary(request, t)) {
          w.raw(BINARY_SIZE);
          w.number(t.byteSize());
          w.raw('}');
          binary.add(Unpooled.wrappedBuffer(t.data()));
        } else {
          w.raw(DATA);
          w.tensor(t.datatype(), t.data());
        }
        w.raw('}');
      }
      w.raw(']');
      w.raw('}');
      w.flush();
    } catch (RuntimeException e) {
      header.release();
      for (ByteBuf b : binary) {
        b.release();
      }
      throw e;
    }
    if (binary.isEmpty()) {
      return new EncodedResponse(header, -1);
    }
    int jsonLength = header.readableBytes();
    ByteBuf[] parts = new ByteBuf[binary.size() + 1];
    parts[0] = header;
    for (int i = 0; i < binary.size(); i++) {
      parts[i + 1] = binary.get(i);
    }
    return new EncodedResponse(Unpooled.wrappedBuffer(parts), jsonLength);
  }

  /**
   * The JSON part's size, rounded up, so that it is allocated once: the fixed fields with room for
   * escapes, and the longest form of every element of the outputs sent as JSON.
   */
  static int capacity(DecodedInferRequest request, InferenceResponse response) {
    long n = 128L + 6L * (response.modelName().length() + response.modelVersion().length());
    n += 6L * response.id().length();
    n += parametersCapacity(response.parameters());
    RequestTiming timing = response.timing();
    if (timing != null) {
      n += parametersCapacity(timing.parameters());
    }
    Map<String, SharedMemoryOutput> shm = request.sharedMemoryOutputs();
    for (Tensor t : response.outputs()) {
      n += 128 + 6L * t.name().length() + 21L * t.rank();
      SharedMemoryOutput placed = shm.isEmpty() ? null : shm.get(t.name());
      if (placed != null) {
        n += 96 + 6L * placed.placement().region().name().length();
      } else if (!sendBinary(request, t)) {
        long count = t.datatype().isFixedSize() ? t.byteSize() / t.datatype().byteSize() : 0;
        n += JsonBufferWriter.maxTensorLength(t.datatype(), count, t.byteSize());
      }
    }
    return (int) Math.min(n, MAX_INITIAL_CAPACITY);
  }

  private static boolean sendBinary(DecodedInferRequest request, Tensor t) {
    if (t.datatype().isBinaryOnly() || request.binary(t.name())) {
      return true;
    }
    // A BYTES output that is not UTF-8 cannot be a JSON string without corrupting it.
    return t.datatype() == DataType.BYTES && !TensorJson.isUtf8(t.data());
  }

  /** The most a map of parameters takes as JSON (every character escaped at worst). */
  private static long parametersCapacity(Map<String, Object> parameters) {
    long n = 0;
    for (Map.Entry<String, Object> e : parameters.entrySet()) {
      n += 6L * e.getKey().length() + 32 + 6L * String.valueOf(e.getValue()).length();
    }
    return n;
  }

  private static void writeParameters(
      JsonBufferWriter w, Map<String, Object> parameters, @Nullable RequestTiming timing) {
    w.raw('{');
    boolean first = writeEntries(w, parameters, true);
    if (timing != null) {
      writeEntries(w, timing.parameters(), first);
    }
    w.raw('}');
  }

  /** Writes parameters as JSON members; whether none was written (neither before nor now). */
  private static boolean writeEntries(
      JsonBufferWriter w, Map<String, Object> parameters, boolean first) {
    for (Map.Entry<String, Object> e : parameters.entrySet()) {
      if (!first) {
        w.raw(',');
      }
      first = false;
      w.field(e.getKey());
      switch (e.getValue()) {
        case Boolean b -> w.bool(b);
        case Long l -> w.number((long) l);
        case Integer i -> w.number((long) i);
        case Double d -> w.number((double) d);
        case null -> w.nullValue();
        default -> w.string(e.getValue().toString());
      }
    }
    return first;
  }

  /**
   * The {@code Server-Timing} header's value for a timing (W3C Server Timing: durations in
   * milliseconds), e.g. {@code queue;dur=0.120, compute;dur=0.850, total;dur=1.020}; a pipeline's
   * steps as {@code steps}, a cache hit as {@code cache;desc=hit}, and an ensemble's steps each as
   * {@code step<i>;desc="<model> v<version>";dur=<its total>} ({@code i} its index in the
   * ensemble's configuration), after the ensemble's own figures.
   */
  public static String serverTiming(RequestTiming t) {
    StringBuilder b = new StringBuilder(96);
    duration(b, "queue", t.queueMicros());
    duration(b.append(", "), "compute", t.computeMicros());
    if (t.stepsMicros() > 0) {
      duration(b.append(", "), "steps", t.stepsMicros());
    }
    duration(b.append(", "), "total", t.totalMicros());
    if (t.cacheHit()) {
      b.append(", cache;desc=hit");
    }
    for (RequestTiming.EnsembleStep s : t.ensembleSteps()) {
      b.append(", step").append(s.step()).append(";desc=\"");
      quoted(b, s.model());
      b.append(" v");
      quoted(b, s.version());
      appendMillis(b.append("\";dur="), s.timing().totalMicros());
    }
    return b.toString();
  }

  /**
   * Appends text inside an HTTP quoted-string: {@code "} and a backslash escaped, a character a
   * header may not carry as {@code ?}.
   */
  private static void quoted(StringBuilder b, String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '"' || c == '\\') {
        b.append('\\');
      }
      b.append(c >= 0x20 && c < 0x7f ? c : '?');
    }
  }

  private static void duration(StringBuilder b, String name, long micros) {
    appendMillis(b.append(name).append(";dur="), micros);
  }

  /**
   * Appends microseconds as milliseconds with three decimals, without going through floating point
   * (also the slow-request log's).
   */
  public static void appendMillis(StringBuilder b, long micros) {
    b.append(micros / 1000).append('.');
    long frac = micros % 1000;
    if (frac < 100) {
      b.append('0');
    }
    if (frac < 10) {
      b.append('0');
    }
    b.append(frac);
  }
}
