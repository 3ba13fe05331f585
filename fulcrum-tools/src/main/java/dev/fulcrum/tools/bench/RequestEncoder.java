package dev.fulcrum.tools.bench;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.fulcrum.core.tensor.Tensor;
import dev.fulcrum.server.codec.Json;
import dev.fulcrum.server.codec.TensorJson;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Encodes a sample as an OIP REST body, plain JSON or with Triton's binary tensor extension;
 * stateless, thread-safe.
 */
final class RequestEncoder {
  private RequestEncoder() {}

  /** An encoded body; {@code headerLength} is -1 for plain JSON. */
  record Body(byte[] bytes, int headerLength) {}

  static Body encode(Sample sample, List<String> outputs, boolean binary) {
    try {
      ByteArrayOutputStream header = new ByteArrayOutputStream();
      try (JsonGenerator g = Json.MAPPER.getFactory().createGenerator(header)) {
        g.writeStartObject();
        g.writeArrayFieldStart("inputs");
        for (Tensor t : sample.inputs()) {
          g.writeStartObject();
          g.writeStringField("name", t.name());
          g.writeStringField("datatype", t.datatype().name());
          g.writeArrayFieldStart("shape");
          for (long d : t.shape()) {
            g.writeNumber(d);
          }
          g.writeEndArray();
          if (binary) {
            g.writeObjectFieldStart("parameters");
            g.writeNumberField("binary_data_size", t.byteSize());
            g.writeEndObject();
          } else {
            if (t.datatype().isBinaryOnly()) {
              throw new IllegalArgumentException(
                  t.name() + " is " + t.datatype() + ", which JSON cannot carry; use rest-binary");
            }
            g.writeFieldName("data");
            TensorJson.write(t.datatype(), t.data(), g);
          }
          g.writeEndObject();
        }
        g.writeEndArray();
        g.writeArrayFieldStart("outputs");
        for (String o : outputs) {
          g.writeStartObject();
          g.writeStringField("name", o);
          g.writeObjectFieldStart("parameters");
          g.writeBooleanField("binary_data", binary);
          g.writeEndObject();
          g.writeEndObject();
        }
        g.writeEndArray();
        g.writeEndObject();
      }
      if (!binary) {
        return new Body(header.toByteArray(), -1);
      }
      int headerLength = header.size();
      for (Tensor t : sample.inputs()) {
        ByteBuffer d = t.data();
        byte[] raw = new byte[d.remaining()];
        d.get(raw);
        header.write(raw);
      }
      return new Body(header.toByteArray(), headerLength);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
