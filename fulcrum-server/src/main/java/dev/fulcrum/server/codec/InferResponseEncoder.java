package dev.fulcrum.server.codec;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Encodes a core {@link InferenceResponse} as an OIP REST response body, with Triton's binary
 * tensor data extension for the outputs that ask for it.
 *
 * <p>Buffer ownership: the returned {@link EncodedResponse#body()} is a new buffer owned by the
 * caller (who hands it to Netty, which releases it after writing). The JSON header is written into
 * a buffer from the channel's allocator; binary outputs are not copied: the body is a composite of
 * the header and {@link Unpooled#wrappedBuffer(java.nio.ByteBuffer)} views of the output tensors'
 * buffers, which the tensors own and which are never written. Stateless and thread-safe.
 */
public final class InferResponseEncoder {
  private InferResponseEncoder() {}

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
    ByteBuf header = alloc.buffer(256);
    try (ByteBufOutputStream out = new ByteBufOutputStream(header);
        JsonGenerator g = Json.MAPPER.getFactory().createGenerator((java.io.OutputStream) out)) {
      g.writeStartObject();
      g.writeStringField("model_name", response.modelName());
      g.writeStringField("model_version", response.modelVersion());
      if (!response.id().isEmpty()) {
        g.writeStringField("id", response.id());
      }
      if (!response.parameters().isEmpty()) {
        g.writeFieldName("parameters");
        writeParameters(g, response.parameters());
      }
      g.writeArrayFieldStart("outputs");
      for (Tensor t : response.outputs()) {
        g.writeStartObject();
        g.writeStringField("name", t.name());
        g.writeStringField("datatype", t.datatype().name());
        g.writeArrayFieldStart("shape");
        for (long d : t.shape()) {
          g.writeNumber(d);
        }
        g.writeEndArray();
        if (sendBinary(request, t)) {
          g.writeObjectFieldStart("parameters");
          g.writeNumberField(InferRequestDecoder.BINARY_DATA_SIZE, t.byteSize());
          g.writeEndObject();
          binary.add(Unpooled.wrappedBuffer(t.data()));
        } else {
          g.writeFieldName("data");
          TensorJson.write(t.datatype(), t.data(), g);
        }
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeEndObject();
    } catch (IOException | RuntimeException e) {
      header.release();
      for (ByteBuf b : binary) {
        b.release();
      }
      if (e instanceof IOException io) {
        throw new UncheckedIOException(io);
      }
      throw (RuntimeException) e;
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

  private static boolean sendBinary(DecodedInferRequest request, Tensor t) {
    if (t.datatype().isBinaryOnly() || request.binary(t.name())) {
      return true;
    }
    // A BYTES output that is not UTF-8 cannot be a JSON string without corrupting it.
    return t.datatype() == DataType.BYTES && !TensorJson.isUtf8(t.data());
  }

  private static void writeParameters(JsonGenerator g, Map<String, Object> parameters)
      throws IOException {
    g.writeStartObject();
    for (Map.Entry<String, Object> e : parameters.entrySet()) {
      g.writeFieldName(e.getKey());
      switch (e.getValue()) {
        case Boolean b -> g.writeBoolean(b);
        case Long l -> g.writeNumber(l);
        case Integer i -> g.writeNumber(i);
        case Double d -> g.writeNumber(d);
        case null -> g.writeNull();
        default -> g.writeString(e.getValue().toString());
      }
    }
    g.writeEndObject();
  }
}
