package dev.fulcrum.server.http;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestTiming;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.tensor.TensorBuffers;
import dev.fulcrum.server.codec.DecodedInferRequest;
import dev.fulcrum.server.codec.InferRequestDecoder;
import dev.fulcrum.server.codec.InferResponseEncoder;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.EventExecutor;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;

/**
 * {@code POST v2/models/<m>[/versions/<v>]/infer}: decode the body on the event loop (one copy of
 * each tensor, see {@link InferRequestDecoder}), hand the request to {@link InferenceService}, and
 * return a reply that the dispatcher renders on the event loop once the engine thread completes the
 * future.
 */
final class InferHandler {
  /** Triton's header giving the JSON part's length in a body that carries binary tensors. */
  static final String HEADER_LENGTH = "Inference-Header-Content-Length";

  /** The W3C header a request that asked for its timing gets it in too (browser devtools). */
  static final String SERVER_TIMING = "Server-Timing";

  private final InferenceService service;
  private final TensorBuffers buffers;

  private final AnswerLoops loops;

  /** Whether every request is timed (the slow-request log is on). */
  private final boolean timeAll;

  /**
   * @param timeAll time every request, for the slow-request log: its answer shows the timing only
   *     when the request asked (or the server's {@code --request-timing-always})
   */
  InferHandler(
      InferenceService service, TensorBuffers buffers, AnswerLoops loops, boolean timeAll) {
    this.service = service;
    this.buffers = buffers;
    this.loops = loops;
    this.timeAll = timeAll;
  }

  /**
   * Decodes and submits a request; {@code request} may be released as soon as this returns.
   *
   * @param loop the connection's event loop: a worker's pass completes the request there, in one
   *     task with the pass's other requests of that loop (one wake-up of the loop per pass)
   * @throws dev.fulcrum.core.error.InferenceException for a malformed request
   */
  CompletableFuture<Reply> infer(
      String model, String version, FullHttpRequest request, EventExecutor loop) {
    // An unknown or unready model is reported as such (404/503) before the body is judged, and a
    // full queue refuses (429) before any work is spent decoding it.
    ModelVersion admitted = service.admissionCheck(model, version);
    ModelConfig config = admitted.config();
    DecodedInferRequest decoded =
        InferRequestDecoder.decode(
            model,
            version,
            request.content(),
            request.headers().get(HEADER_LENGTH),
            () -> config,
            buffers);
    InferenceRequest asked = decoded.request();
    // The slow-request log needs every request's timing; the answer shows it only when asked.
    boolean shown = asked.options().timing() || service.timingAlways();
    InferenceRequest run =
        timeAll && !asked.options().timing()
            ? asked.withOptions(asked.options().withTiming())
            : asked;
    CompletableFuture<InferenceResponse> inference = service.infer(admitted, run, loops.of(loop));
    long sloNanos = config.slo().latencyNanos();
    CompletableFuture<Reply> reply =
        inference.thenApply(response -> (Reply) new Answer(decoded, response, shown, sloNanos));
    // The dispatcher cancels the reply when the client goes away: drop the queued work too.
    reply.whenComplete(
        (r, t) -> {
          if (t instanceof CancellationException) {
            inference.cancel(true);
          }
        });
    return reply;
  }

  /**
   * A model's answer, rendered on the event loop; the dispatcher reads its timing and objective for
   * the slow-request log.
   *
   * @param shown whether the response carries its timing (the request asked, or the server times
   *     every request): a timing made only for the slow-request log stays in the server
   * @param sloNanos the model's latency objective, 0 for none
   */
  record Answer(
      DecodedInferRequest decoded, InferenceResponse response, boolean shown, long sloNanos)
      implements Reply {
    @Override
    public FullHttpResponse render(ByteBufAllocator alloc) {
      InferenceResponse out = shown ? response : response.withTiming(null);
      InferResponseEncoder.EncodedResponse e = InferResponseEncoder.encode(decoded, out, alloc);
      FullHttpResponse r = Responses.full(HttpResponseStatus.OK, e.body());
      if (e.hasBinary()) {
        r.headers()
            .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM)
            .set(HEADER_LENGTH, e.jsonLength());
      } else {
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
      }
      RequestTiming timing = out.timing();
      if (timing != null) {
        r.headers().set(SERVER_TIMING, InferResponseEncoder.serverTiming(timing));
      }
      return r;
    }
  }
}
