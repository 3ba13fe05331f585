package dev.fulcrum.server.grpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.fulcrum.core.error.InferenceException;

/**
 * Turns the JSON documents of {@link dev.fulcrum.server.protocol.ModelJson} into their protobuf
 * messages, so that REST and gRPC describe models from one builder. The JSON uses the protobuf
 * field names, which {@link JsonFormat} accepts. Fields the JSON has and the message lacks (a field
 * the REST builder gains before the .proto does) are skipped; a test checks that none are.
 */
final class ProtoJson {
  private static final JsonFormat.Parser PARSER = JsonFormat.parser().ignoringUnknownFields();

  private ProtoJson() {}

  static <B extends Message.Builder> B merge(JsonNode json, B builder) {
    try {
      PARSER.merge(json.toString(), builder);
    } catch (InvalidProtocolBufferException e) {
      throw InferenceException.internal("cannot convert " + json + " to protobuf", e);
    }
    return builder;
  }
}
