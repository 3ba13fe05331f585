package dev.fulcrum.server.e2e;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnknownFieldSet;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The spans of an OTLP/HTTP protobuf body ({@code ExportTraceServiceRequest}), read by field number
 * with protobuf's schema-less parser: what the tracing tests check, without the generated OTLP
 * classes (opentelemetry-proto 1.11's need a newer protobuf runtime than the server's). Field
 * numbers from opentelemetry/proto/trace/v1/trace.proto and common/v1/common.proto.
 */
final class OtlpSpans {
  private OtlpSpans() {}

  /** One span: ids in hex, times in Unix nanoseconds, attributes as strings. */
  record Span(
      String traceId,
      String spanId,
      String parentSpanId,
      String traceState,
      String name,
      int kind,
      long startNanos,
      long endNanos,
      Map<String, String> attributes,
      int statusCode,
      String serviceName) {
    static final int KIND_SERVER = 2;
    static final int STATUS_ERROR = 2;

    String attribute(String key) {
      return attributes.getOrDefault(key, "(absent)");
    }
  }

  static List<Span> parse(byte[] body) throws InvalidProtocolBufferException {
    List<Span> out = new ArrayList<>();
    UnknownFieldSet request = UnknownFieldSet.parseFrom(body);
    for (ByteString rsBytes : bytes(request, 1)) { // resource_spans
      UnknownFieldSet rs = UnknownFieldSet.parseFrom(rsBytes);
      String service = "";
      for (ByteString resource : bytes(rs, 1)) {
        service =
            attributes(UnknownFieldSet.parseFrom(resource), 1).getOrDefault("service.name", "");
      }
      for (ByteString ssBytes : bytes(rs, 2)) { // scope_spans
        for (ByteString spanBytes : bytes(UnknownFieldSet.parseFrom(ssBytes), 2)) {
          UnknownFieldSet s = UnknownFieldSet.parseFrom(spanBytes);
          int status = 0;
          for (ByteString st : bytes(s, 15)) {
            status = (int) varint(UnknownFieldSet.parseFrom(st), 3);
          }
          out.add(
              new Span(
                  hex(s, 1),
                  hex(s, 2),
                  hex(s, 4),
                  string(s, 3),
                  string(s, 5),
                  (int) varint(s, 6),
                  fixed64(s, 7),
                  fixed64(s, 8),
                  attributes(s, 9),
                  status,
                  service));
        }
      }
    }
    return out;
  }

  private static List<ByteString> bytes(UnknownFieldSet m, int field) {
    return m.hasField(field) ? m.getField(field).getLengthDelimitedList() : List.of();
  }

  private static String hex(UnknownFieldSet m, int field) {
    List<ByteString> b = bytes(m, field);
    return b.isEmpty() ? "" : HexFormat.of().formatHex(b.get(0).toByteArray());
  }

  private static String string(UnknownFieldSet m, int field) {
    List<ByteString> b = bytes(m, field);
    return b.isEmpty() ? "" : b.get(0).toStringUtf8();
  }

  private static long varint(UnknownFieldSet m, int field) {
    return m.hasField(field) && !m.getField(field).getVarintList().isEmpty()
        ? m.getField(field).getVarintList().get(0)
        : 0;
  }

  private static long fixed64(UnknownFieldSet m, int field) {
    return m.hasField(field) && !m.getField(field).getFixed64List().isEmpty()
        ? m.getField(field).getFixed64List().get(0)
        : 0;
  }

  /** KeyValue {1: key, 2: AnyValue {1: string, 2: bool, 3: int, 4: double}}. */
  private static Map<String, String> attributes(UnknownFieldSet m, int field)
      throws InvalidProtocolBufferException {
    Map<String, String> out = new LinkedHashMap<>();
    for (ByteString kvBytes : bytes(m, field)) {
      UnknownFieldSet kv = UnknownFieldSet.parseFrom(kvBytes);
      String value = "";
      for (ByteString v : bytes(kv, 2)) {
        UnknownFieldSet any = UnknownFieldSet.parseFrom(v);
        if (any.hasField(1)) {
          value = string(any, 1);
        } else if (any.hasField(2)) {
          value = Boolean.toString(varint(any, 2) != 0);
        } else if (any.hasField(3)) {
          value = Long.toString(varint(any, 3));
        } else if (any.hasField(4)) {
          value = Double.toString(Double.longBitsToDouble(fixed64(any, 4)));
        }
      }
      out.put(string(kv, 1), value);
    }
    return out;
  }
}
