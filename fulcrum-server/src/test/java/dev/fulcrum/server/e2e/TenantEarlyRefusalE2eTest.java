package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.fulcrum.core.tenant.Outcome;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tenant.TenantLimits;
import dev.fulcrum.server.TenantFixture;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A tenant over its limits is refused when its request's headers arrive, over real sockets: on
 * HTTP/1.1 the 429 (with its retry hint) comes back while the client has sent the headers and only
 * the first 64 KiB of an 8 MiB body, and the connection stays usable once the body is sent (the
 * server skips it unbuffered); on gRPC a unary call is closed RESOURCE_EXHAUSTED (with {@code
 * grpc-retry-pushback-ms}) although its client never sent its message. The other tenant's requests
 * are answered meanwhile; permits taken at the headers are given back when a client goes away
 * mid-body or before its message.
 */
class TenantEarlyRefusalE2eTest {
  private static final Path DEMO = E2eServer.DEMO_MODELS;
  private static final String MODEL = "fraud_classifier";
  private static final String QUIET = TenantFixture.token("quiet");
  private static final String NOISY = TenantFixture.token("noisy");
  private static final String ONE_AT_ONCE = TenantFixture.token("single");
  private static final String SCORER = TenantFixture.token("scorer");
  private static final String ONE_ROW =
      "{\"inputs\":[{\"name\":\"features\",\"shape\":[1,8],\"datatype\":\"FP32\","
          + "\"data\":[2500.0,3,0.9,800.0,14,20,1,0]}]}";

  @AutoClose private static E2eServer server;
  @AutoClose private static TenantFixture tenants;

  @BeforeAll
  static void start() throws Exception {
    assumeThat(DEMO.resolve(MODEL)).as("the demo repository").isDirectory();
    server = E2eServer.start(DEMO);
    tenants =
        TenantFixture.serve(
            server.service,
            TenantFixture.inference("quiet", TenantLimits.NONE),
            // One request every 1000 s, a burst of 1: after its first request, refused.
            TenantFixture.inference("noisy", new TenantLimits(0.001, 1, 0)),
            TenantFixture.inference("single", TenantFixture.ONE_AT_ONCE),
            // The noisy tenant's limits, for MLflow's /invocations.
            TenantFixture.inference("scorer", new TenantLimits(0.001, 1, 0)));
  }

  private static String head(String token, long length) {
    return "POST "
        + inferPath(MODEL)
        + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Authorization: Bearer "
        + token
        + "\r\nContent-Length: "
        + length
        + "\r\n\r\n";
  }

  /** One HTTP/1.1 response off the stream: its status line, headers and body (Content-Length). */
  private record Answer(int status, String headers, String body) {}

  private static Answer read(InputStream in) throws IOException {
    ByteArrayOutputStream h = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("the connection closed before an answer: " + h);
      }
      h.write(b);
      matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    String headers = h.toString(StandardCharsets.ISO_8859_1);
    int length = 0;
    for (String line : headers.split("\r\n")) {
      if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).strip());
      }
    }
    byte[] body = in.readNBytes(length);
    return new Answer(
        Integer.parseInt(headers.substring(9, 12)),
        headers,
        new String(body, StandardCharsets.UTF_8));
  }

  /** A JSON body of {@code length} bytes: the one row, padded with spaces. */
  private static byte[] padded(int length) {
    byte[] b = new byte[length];
    Arrays.fill(b, (byte) ' ');
    byte[] json = ONE_ROW.getBytes(StandardCharsets.UTF_8);
    System.arraycopy(json, 0, b, 0, json.length);
    return b;
  }

  @Test
  void http11TheRefusalArrivesBeforeTheBodyIsSentAndTheConnectionStaysUsable() throws Exception {
    try (Socket s = new Socket("127.0.0.1", tenants.http.port())) {
      s.setSoTimeout(30_000);
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      // The noisy tenant's one request of its bucket: answered.
      byte[] small = ONE_ROW.getBytes(StandardCharsets.UTF_8);
      out.write(head(NOISY, small.length).getBytes(StandardCharsets.US_ASCII));
      out.write(small);
      out.flush();
      assertThat(read(in).status()).isEqualTo(200);
      long refusedBefore = tenants.requests("noisy", Outcome.REFUSED);

      // Its backfill: 8 MiB announced, the headers and 64 KiB sent, then it waits for an answer.
      int length = 8 << 20;
      byte[] big = padded(length);
      out.write(head(NOISY, length).getBytes(StandardCharsets.US_ASCII));
      out.write(big, 0, 64 << 10);
      out.flush();
      Answer refused = read(in);
      assertThat(refused.status()).as(refused.headers()).isEqualTo(429);
      assertThat(refused.headers()).containsIgnoringCase("Retry-After:");
      assertThat(refused.headers()).containsIgnoringCase("retry-after-ms:");
      assertThat(refused.headers()).doesNotContainIgnoringCase("connection: close");
      assertThat(refused.body()).contains("tenant 'noisy'").contains("rate limit");
      assertThat(tenants.requests("noisy", Outcome.REFUSED)).isEqualTo(refusedBefore + 1);

      // The rest of the body is skipped, unbuffered; the next request on the connection (the
      // quiet tenant's) is answered.
      out.write(big, 64 << 10, length - (64 << 10));
      out.write(head(QUIET, small.length).getBytes(StandardCharsets.US_ASCII));
      out.write(small);
      out.flush();
      Answer quiet = read(in);
      assertThat(quiet.status()).as(quiet.body()).isEqualTo(200);
      assertThat(quiet.body()).contains("\"outputs\"");
    }
  }

  @Test
  void anInvocationOverTheLimitIsRefusedAtItsHeadInMlflowsShapeAndChargedToItsModel()
      throws Exception {
    java.net.http.HttpClient client = java.net.http.HttpClient.newHttpClient();
    java.util.function.Supplier<java.net.http.HttpResponse<String>> invoke =
        () -> {
          try {
            return client.send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(
                            "http://127.0.0.1:" + tenants.http.port() + "/invocations"))
                    .header("Authorization", "Bearer " + SCORER)
                    .header("Content-Type", "text/csv")
                    .header("X-Amzn-SageMaker-Target-Model", MODEL + ".tar.gz")
                    .POST(
                        java.net.http.HttpRequest.BodyPublishers.ofString(
                            "a,b,c,d,e,f,g,h\n2500,3,0.9,800,14,20,1,0\n"))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
          } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
          }
        };
    java.net.http.HttpResponse<String> first = invoke.get();
    assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
    assertThat(first.body()).startsWith("{\"predictions\":[");
    java.net.http.HttpResponse<String> refused = invoke.get();
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(429);
    assertThat(refused.headers().firstValue("retry-after-ms")).isPresent();
    assertThat(refused.body())
        .contains("\"error_code\":\"REQUEST_LIMIT_EXCEEDED\"")
        .contains("tenant 'scorer'");
    // Admitted and refused under the model the header named, not under "".
    assertThat(tenants.tenant("scorer").usage()).containsOnlyKeys(MODEL);
    assertThat(tenants.requests("scorer", Outcome.REFUSED)).isEqualTo(1);
  }

  @Test
  void aPermitTakenAtTheHeadersIsGivenBackWhenTheClientGoesAwayMidBody() throws Exception {
    Tenant single = tenants.tenant("single");
    long gone = tenants.requests("single", Outcome.CLIENT_ERROR);
    try (Socket s = new Socket("127.0.0.1", tenants.http.port())) {
      OutputStream out = s.getOutputStream();
      out.write(head(ONE_AT_ONCE, 1 << 20).getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[4096]);
      out.flush();
      awaitInFlight(single, 1);
      // Meanwhile a second request of the tenant is over its concurrency: refused at its head.
      try (Socket t = new Socket("127.0.0.1", tenants.http.port())) {
        t.setSoTimeout(30_000);
        t.getOutputStream().write(head(ONE_AT_ONCE, 1 << 20).getBytes(StandardCharsets.US_ASCII));
        Answer over = read(t.getInputStream());
        assertThat(over.status()).isEqualTo(429);
        assertThat(over.body()).contains("concurrency=1");
      }
    } // closed mid-body
    awaitInFlight(single, 0);
    assertThat(tenants.requests("single", Outcome.CLIENT_ERROR)).isEqualTo(gone + 1);
    // The permit is free: the tenant's next request is answered.
    try (Socket s = new Socket("127.0.0.1", tenants.http.port())) {
      s.setSoTimeout(30_000);
      byte[] small = ONE_ROW.getBytes(StandardCharsets.UTF_8);
      s.getOutputStream()
          .write(head(ONE_AT_ONCE, small.length).getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().write(small);
      assertThat(read(s.getInputStream()).status()).isEqualTo(200);
    }
    assertThat(single.inFlight()).isZero();
  }

  private static void awaitInFlight(Tenant t, int n) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (t.inFlight() != n && System.nanoTime() < end) {
      Thread.sleep(5);
    }
    assertThat(t.inFlight()).as(t.name() + " in flight").isEqualTo(n);
  }

  /** A unary ModelInfer call whose client sends its headers only, and the status it ends with. */
  private static final class HeadersOnly extends ClientCall.Listener<ModelInferResponse> {
    final CompletableFuture<Status> closed = new CompletableFuture<>();
    final CompletableFuture<Metadata> trailers = new CompletableFuture<>();

    @Override
    public void onClose(Status status, Metadata t) {
      trailers.complete(t);
      closed.complete(status);
    }
  }

  private static ClientCall<ModelInferRequest, ModelInferResponse> headersOnly(
      ManagedChannel channel, String token, HeadersOnly listener) {
    // ModelInfer itself (its path), typed UNKNOWN on this side only: grpc-java's client holds a
    // unary call's headers back until its message, and this one is never sent.
    ClientCall<ModelInferRequest, ModelInferResponse> call =
        channel.newCall(
            GRPCInferenceServiceGrpc.getModelInferMethod().toBuilder()
                .setType(io.grpc.MethodDescriptor.MethodType.UNKNOWN)
                .build(),
            CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS));
    call.start(listener, TenantFixture.bearer(token));
    call.request(1);
    return call;
  }

  @Test
  void grpcACallOverTheLimitIsClosedAtItsHeadersBeforeItsMessageIsSent() throws Exception {
    ManagedChannel channel = tenants.channel();
    try {
      // Spend the noisy tenant's bucket (the REST test may have already: either way it is empty).
      var stub =
          GRPCInferenceServiceGrpc.newBlockingStub(channel)
              .withInterceptors(
                  io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(
                      TenantFixture.bearer(NOISY)));
      try {
        stub.withDeadlineAfter(60, TimeUnit.SECONDS).modelInfer(oneRow());
      } catch (io.grpc.StatusRuntimeException e) {
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      }
      long refusedBefore = tenants.requests("noisy", Outcome.REFUSED);
      HeadersOnly noisy = new HeadersOnly();
      ClientCall<ModelInferRequest, ModelInferResponse> call = headersOnly(channel, NOISY, noisy);
      Status status = noisy.closed.get(30, TimeUnit.SECONDS); // no message was ever sent
      assertThat(status.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(status.getDescription()).contains("tenant 'noisy'");
      assertThat(noisy.trailers.get().get(TenantFixture.PUSHBACK))
          .as("grpc-retry-pushback-ms")
          .isNotNull();
      assertThat(tenants.requests("noisy", Outcome.REFUSED)).isEqualTo(refusedBefore + 1);
      call.cancel("done", null);

      // The quiet tenant is answered.
      ModelInferResponse quiet =
          GRPCInferenceServiceGrpc.newBlockingStub(channel)
              .withInterceptors(
                  io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(
                      TenantFixture.bearer(QUIET)))
              .withDeadlineAfter(60, TimeUnit.SECONDS)
              .modelInfer(oneRow());
      assertThat(quiet.getOutputsCount()).isPositive();

      // TF Serving's Predict is admitted at its headers alike: the noisy tenant's is refused with
      // the limiter's pushback, the quiet one's answered.
      var predict =
          dev.fulcrum.server.grpc.tfserving.PredictRequest.newBuilder()
              .setModelSpec(dev.fulcrum.server.grpc.tfserving.ModelSpec.newBuilder().setName(MODEL))
              .putInputs(
                  "features",
                  dev.fulcrum.server.grpc.tfserving.TensorProto.newBuilder()
                      .setDtype(dev.fulcrum.server.grpc.tfserving.DataType.DT_FLOAT)
                      .setTensorShape(
                          dev.fulcrum.server.grpc.tfserving.TensorShapeProto.newBuilder()
                              .addDim(
                                  dev.fulcrum.server.grpc.tfserving.TensorShapeProto.Dim
                                      .newBuilder()
                                      .setSize(1))
                              .addDim(
                                  dev.fulcrum.server.grpc.tfserving.TensorShapeProto.Dim
                                      .newBuilder()
                                      .setSize(8)))
                      .addFloatVal(1)
                      .build())
              .build();
      long refusedPredict = tenants.requests("noisy", Outcome.REFUSED);
      assertThatThrownBy(
              () ->
                  dev.fulcrum.server.grpc.tfserving.PredictionServiceGrpc.newBlockingStub(channel)
                      .withInterceptors(
                          io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(
                              TenantFixture.bearer(NOISY)))
                      .withDeadlineAfter(60, TimeUnit.SECONDS)
                      .predict(predict))
          .isInstanceOfSatisfying(
              io.grpc.StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                assertThat(e.getStatus().getDescription()).contains("tenant 'noisy'");
                assertThat(e.getTrailers().get(TenantFixture.PUSHBACK)).isNotNull();
              });
      assertThat(tenants.requests("noisy", Outcome.REFUSED)).isEqualTo(refusedPredict + 1);
      assertThat(
              dev.fulcrum.server.grpc.tfserving.PredictionServiceGrpc.newBlockingStub(channel)
                  .withInterceptors(
                      io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(
                          TenantFixture.bearer(QUIET)))
                  .withDeadlineAfter(60, TimeUnit.SECONDS)
                  .predict(predict)
                  .getOutputsCount())
          .isPositive();

      // A call admitted at its headers and cancelled before its message gives its permit back.
      Tenant single = tenants.tenant("single");
      HeadersOnly held = new HeadersOnly();
      ClientCall<ModelInferRequest, ModelInferResponse> admitted =
          headersOnly(channel, ONE_AT_ONCE, held);
      awaitInFlight(single, 1);
      HeadersOnly second = new HeadersOnly();
      headersOnly(channel, ONE_AT_ONCE, second);
      assertThat(second.closed.get(30, TimeUnit.SECONDS).getCode())
          .isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      admitted.cancel("the client gives up", null);
      awaitInFlight(single, 0);
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private static ModelInferRequest oneRow() {
    java.nio.ByteBuffer b =
        java.nio.ByteBuffer.allocate(8 * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 8; i++) {
      b.putFloat(i % 3);
    }
    return ModelInferRequest.newBuilder()
        .setModelName(MODEL)
        .addInputs(
            ModelInferRequest.InferInputTensor.newBuilder()
                .setName("features")
                .setDatatype("FP32")
                .addAllShape(List.of(1L, 8L)))
        .addRawInputContents(com.google.protobuf.ByteString.copyFrom(b.flip()))
        .build();
  }
}
