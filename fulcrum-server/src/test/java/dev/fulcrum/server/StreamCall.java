package dev.fulcrum.server;

import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelStreamInferResponse;
import io.grpc.Channel;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.TimeUnit;

/**
 * The client side of one ModelStreamInfer call in a test: its answers in order, and the status it
 * ended with (OK when the server completed it). Thread-safe: gRPC's threads fill it, the test
 * reads.
 */
final class StreamCall extends CallRecorder<ModelStreamInferResponse> {
  /** Where the test sends the call's requests. */
  final StreamObserver<ModelInferRequest> requests;

  /** Opens a call on {@code channel} with a deadline {@code seconds} away. */
  StreamCall(Channel channel, long seconds) {
    requests =
        GRPCInferenceServiceGrpc.newStub(channel)
            .withDeadlineAfter(seconds, TimeUnit.SECONDS)
            .modelStreamInfer(this);
  }
}
