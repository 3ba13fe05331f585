package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import dev.fulcrum.core.tenant.Outcome;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tenant.TenantLimits;
import dev.fulcrum.server.CallRecorder;
import dev.fulcrum.server.TenantFixture;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferParameter;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.ModelStreamInferResponse;
import dev.fulcrum.server.metrics.ServerMetrics;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two tenants over real sockets, REST and gRPC, against the demo's fraud classifier served at a
 * price: the backfill tenant is rate-limited and gets 429 / RESOURCE_EXHAUSTED with a retry hint
 * naming it and its limit; the online tenant gets no refusal; {@code GET /v2/tenants} and the
 * {@code fulcrum_tenant_*} metrics count for each what its client counted (answers, refusals, rows)
 * and charge it the sum of the {@code cost_usd} its answers carried. Only counts and sums are
 * checked, never durations; the limited tenant's split between answers and refusals depends on the
 * machine's speed, so the test compares the server's counts with the client's, not with constants.
 */
class TenantsE2eTest {
  private static final Path DEMO = E2eServer.DEMO_MODELS;
  private static final String MODEL = "fraud_classifier";
  private static final String ONLINE = TenantFixture.token("online");
  private static final String BACKFILL = TenantFixture.token("backfill");
  private static final String OPS = TenantFixture.token("ops");
  private static final String STREAM = TenantFixture.token("streamer");
  private static final String TF = TenantFixture.token("tf-serving");
  private static final String TWO_ROWS =
      "\"inputs\":[{\"name\":\"features\",\"shape\":[2,8],\"datatype\":\"FP32\","
          + "\"data\":[2500.0,3,0.9,800.0,14,20,1,0, 12.5,14,0.1,2.0,1,900,0,1]}]";

  @AutoClose private static E2eServer server;
  @AutoClose private static TenantFixture tenants;
  private static final HttpClient client =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void start() throws Exception {
    assumeThat(DEMO.resolve(MODEL)).as("the demo repository").isDirectory();
    server = E2eServer.serving(DEMO).costPerHour(3.6).start();
    tenants =
        TenantFixture.serve(
            server.service,
            TenantFixture.inference("online", TenantLimits.NONE),
            // 2 requests a second, 2 at once: a burst of 30 is mostly refused.
            TenantFixture.inference("backfill", new TenantLimits(2, 2, 0)),
            TenantFixture.management("ops"),
            // One request in flight at once, for the stream's test.
            TenantFixture.inference("streamer", TenantFixture.ONE_AT_ONCE),
            TenantFixture.inference("tf-serving", TenantLimits.NONE));
  }

  /** What a client counted of its requests. */
  private static final class Counts {
    int answered;
    int refused;
    long rows;
    double cost;
  }

  private static HttpResponse<byte[]> rest(String token, String body) throws Exception {
    return client.send(
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + tenants.http.port() + inferPath(MODEL)))
            .timeout(Duration.ofSeconds(60))
            .header("Content-Type", "application/json")
            .header("Authorization", "Bearer " + token)
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofByteArray());
  }

  private static void restRequest(String token, Counts c) throws Exception {
    HttpResponse<byte[]> r = rest(token, "{\"parameters\":{\"timing\":true}," + TWO_ROWS + "}");
    if (r.statusCode() == 429) {
      c.refused++;
      String error = E2eServer.error(r);
      assertThat(error).contains("tenant 'backfill'").contains("rate limit").contains("rate=2");
      assertThat(r.headers().firstValue("Retry-After")).isPresent();
      return;
    }
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode p = E2eServer.header(r).get("parameters");
    c.answered++;
    c.rows += p.get("request_rows").asLong();
    c.cost += p.get("cost_usd").asDouble();
  }

  private static ModelInferRequest grpcRequest() {
    ByteBuffer b = ByteBuffer.allocate(2 * 8 * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 16; i++) {
      b.putFloat(i % 3);
    }
    return ModelInferRequest.newBuilder()
        .setModelName(MODEL)
        .putParameters("timing", InferParameter.newBuilder().setBoolParam(true).build())
        .addInputs(
            ModelInferRequest.InferInputTensor.newBuilder()
                .setName("features")
                .setDatatype("FP32")
                .addAllShape(List.of(2L, 8L)))
        .addRawInputContents(ByteString.copyFrom(b.flip()))
        .build();
  }

  private static void grpcRequests(String token, int n, Counts c) throws Exception {
    Metadata headers = TenantFixture.bearer(token);
    ManagedChannel channel = tenants.channel();
    try {
      var stub =
          GRPCInferenceServiceGrpc.newBlockingStub(channel)
              .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
      for (int i = 0; i < n; i++) {
        ModelInferResponse r;
        try {
          r = stub.withDeadlineAfter(60, TimeUnit.SECONDS).modelInfer(grpcRequest());
        } catch (StatusRuntimeException e) {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
          assertThat(e.getStatus().getDescription()).contains("tenant 'backfill'");
          assertThat(e.getTrailers()).isNotNull();
          assertThat(e.getTrailers().get(TenantFixture.PUSHBACK))
              .as("grpc-retry-pushback-ms")
              .isNotNull();
          c.refused++;
          continue;
        }
        c.answered++;
        c.rows += r.getParametersMap().get("request_rows").getInt64Param();
        c.cost += r.getParametersMap().get("cost_usd").getDoubleParam();
      }
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /** The refusals counted for {@code tenant} under the model "" (none: 0). */
  private static int refusedUnderNoModel(JsonNode report, String tenant) {
    for (JsonNode t : report.get("tenants")) {
      if (t.get("name").asText().equals(tenant)) {
        for (JsonNode m : t.get("models")) {
          if (m.get("model").asText().isEmpty()) {
            return m.at("/requests/refused").asInt();
          }
        }
      }
    }
    return 0;
  }

  private static JsonNode usage(JsonNode report, String tenant) {
    for (JsonNode t : report.get("tenants")) {
      if (t.get("name").asText().equals(tenant)) {
        for (JsonNode m : t.get("models")) {
          if (m.get("model").asText().equals(MODEL)) {
            return m;
          }
        }
        throw new AssertionError("tenant " + tenant + " has no usage of " + MODEL + ": " + t);
      }
    }
    throw new AssertionError("no tenant " + tenant + " in " + report);
  }

  /** {@code GET /v2/tenants} with {@code token}. */
  private static HttpResponse<byte[]> tenantsReport(String token) throws Exception {
    return client.send(
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + tenants.http.port() + "/v2/tenants"))
            .header("Authorization", "Bearer " + token)
            .build(),
        HttpResponse.BodyHandlers.ofByteArray());
  }

  private static HttpResponse<byte[]> predict(String authorization, String body) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(
                URI.create(
                    "http://127.0.0.1:" + tenants.http.port() + "/v1/models/" + MODEL + ":predict"))
            .timeout(Duration.ofSeconds(60))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (!authorization.isEmpty()) {
      b.header("Authorization", authorization);
    }
    return client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  @Test
  void tfServingPredictIsChargedToItsTokensTenantAsAnInferRequest() throws Exception {
    String twoRows =
        "{\"instances\": [[2500.0,3,0.9,800.0,14,20,1,0], [12.5,14,0.1,2.0,1,900,0,1]]}";
    for (int i = 0; i < 3; i++) {
      HttpResponse<byte[]> r = predict("Bearer " + TF, twoRows);
      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    }
    HttpResponse<byte[]> bad = predict("Bearer " + TF, "{\"instances\": [[1, 2]]}");
    assertThat(bad.statusCode()).as(text(bad)).isEqualTo(400);
    // Without a token: 401, in TF Serving's (OIP's) error shape, not OpenAI's.
    HttpResponse<byte[]> anonymous = predict("", twoRows);
    assertThat(anonymous.statusCode()).isEqualTo(401);
    assertThat(E2eServer.JSON.readTree(anonymous.body()).get("error").isTextual()).isTrue();

    HttpResponse<byte[]> r = tenantsReport(OPS);
    JsonNode u = usage(E2eServer.JSON.readTree(r.body()), "tf-serving");
    assertThat(u.at("/requests/success").asInt()).isEqualTo(3);
    assertThat(u.at("/requests/client_error").asInt()).isEqualTo(1);
    assertThat(u.get("predictions").asLong()).isEqualTo(6);
  }

  @Test
  void eachTenantIsChargedWhatItsClientCountedAndOnlyTheLimitedOneIsRefused() throws Exception {
    Counts online = new Counts();
    Counts backfill = new Counts();
    // Interleaved: the backfill's burst runs while the online tenant sends.
    for (int i = 0; i < 30; i++) {
      restRequest(BACKFILL, backfill);
      if (i % 3 == 0) {
        restRequest(ONLINE, online);
      }
    }
    // A unary gRPC call is judged at its headers, before its message (which names the model) is
    // parsed: its refusals count under the model "".
    int restRefused = backfill.refused;
    grpcRequests(BACKFILL, 20, backfill);
    grpcRequests(ONLINE, 10, online);
    int grpcRefused = backfill.refused - restRefused;

    assertThat(online.refused).as("the online tenant's refusals").isZero();
    assertThat(online.answered).isEqualTo(20);
    assertThat(backfill.refused).as("the backfill tenant's refusals").isPositive();
    assertThat(backfill.answered).as("the backfill tenant's answers").isPositive();

    HttpResponse<byte[]> r = tenantsReport(OPS);
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode report = E2eServer.JSON.readTree(r.body());
    double allCost = 0;
    for (var pair : List.of(List.of("online", online), List.of("backfill", backfill))) {
      String name = (String) pair.get(0);
      Counts c = (Counts) pair.get(1);
      JsonNode u = usage(report, name);
      assertThat(u.at("/requests/success").asInt()).as(name).isEqualTo(c.answered);
      int atHeaders = c == backfill ? grpcRefused : 0;
      assertThat(u.at("/requests/refused").asInt()).as(name).isEqualTo(c.refused - atHeaders);
      assertThat(refusedUnderNoModel(report, name)).as(name).isEqualTo(atHeaders);
      assertThat(u.at("/requests/client_error").asInt()).as(name).isZero();
      assertThat(u.at("/requests/server_error").asInt()).as(name).isZero();
      assertThat(u.get("predictions").asLong()).as(name).isEqualTo(c.rows);
      assertThat(u.get("compute_seconds").asDouble()).as(name).isPositive();
      assertThat(u.get("cost_usd").asDouble())
          .as("%s: charged the cost_usd its answers carried", name)
          .isCloseTo(c.cost, within(c.cost * 1e-9));
      allCost += u.get("cost_usd").asDouble();
    }
    // The tenants' costs add up to the model's cost over the same requests.
    assertThat(allCost).isCloseTo(online.cost + backfill.cost, within(allCost * 1e-9));

    // A tenant's request that does not ask for its timing is timed for the chargeback only.
    HttpResponse<byte[]> plain = rest(ONLINE, "{" + TWO_ROWS + "}");
    assertThat(plain.statusCode()).as(text(plain)).isEqualTo(200);
    assertThat(E2eServer.header(plain).has("parameters")).as(text(plain)).isFalse();
    assertThat(plain.headers().firstValue("Server-Timing")).isEmpty();

    // The metrics say the same, labelled by tenant and model.
    ServerMetrics metrics = new ServerMetrics(false);
    metrics.bindTenants(tenants.access.tenants());
    String scrape = metrics.scrape();
    assertThat(scrape)
        .contains(
            "fulcrum_tenant_requests_total{tenant=\"backfill\",model=\"fraud_classifier\","
                + "outcome=\"refused\"} "
                + restRefused)
        .contains(
            "fulcrum_tenant_predictions_total{tenant=\"online\",model=\"fraud_classifier\"} "
                + (online.rows + 2))
        .contains("# TYPE fulcrum_tenant_cost_usd_total counter")
        .contains("fulcrum_tenant_compute_seconds_total{tenant=\"backfill\"");
  }

  @Test
  void aStreamsRequestsAreChargedToItsCallsTenantAndHeldToItsConcurrency() throws Exception {
    Metadata headers = TenantFixture.bearer(STREAM);
    ManagedChannel channel = tenants.channel();
    int n = 20;
    int answered = 0;
    int refused = 0;
    try {
      CallRecorder<ModelStreamInferResponse> call = new CallRecorder<>();
      StreamObserver<ModelInferRequest> requests =
          GRPCInferenceServiceGrpc.newStub(channel)
              .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
              .withDeadlineAfter(60, TimeUnit.SECONDS)
              .modelStreamInfer(call);
      for (int i = 0; i < n; i++) {
        requests.onNext(grpcRequest());
      }
      requests.onCompleted();
      for (int i = 0; i < n; i++) {
        ModelStreamInferResponse r = call.answers.poll(60, TimeUnit.SECONDS);
        assertThat(r).as("answer %d", i).isNotNull();
        if (r.getErrorMessage().isEmpty()) {
          answered++;
        } else {
          // Sent back to back on one stream: a request may come while the one before runs.
          assertThat(r.getErrorMessage())
              .contains("tenant 'streamer'")
              .contains("concurrency limit");
          refused++;
        }
      }
      assertThat(call.ended.get(60, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.OK);
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    assertThat(answered).isPositive();
    Tenant streamer = tenants.tenant("streamer");
    var counts = streamer.usage().get(MODEL);
    assertThat(counts.requests(Outcome.SUCCESS)).isEqualTo(answered);
    assertThat(counts.requests(Outcome.REFUSED)).isEqualTo(refused);
    assertThat(counts.predictions()).isEqualTo(2L * answered);
    assertThat(streamer.inFlight()).as("every place given back").isZero();
  }

  @Test
  void theReportNeedsAManagementTokenAndAnUnknownModelAddsNoLabel() throws Exception {
    HttpResponse<byte[]> asInference = tenantsReport(ONLINE);
    assertThat(asInference.statusCode()).as(text(asInference)).isEqualTo(403);
    HttpResponse<byte[]> unknown =
        client.send(
            HttpRequest.newBuilder(
                    URI.create(
                        "http://127.0.0.1:" + tenants.http.port() + inferPath("no_such_model_xyz")))
                .header("Authorization", "Bearer " + OPS)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{" + TWO_ROWS + "}"))
                .build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertThat(unknown.statusCode()).isEqualTo(404);
    ServerMetrics metrics = new ServerMetrics(false);
    metrics.bindTenants(tenants.access.tenants());
    assertThat(metrics.scrape())
        .doesNotContain("no_such_model_xyz")
        .contains(
            "fulcrum_tenant_requests_total{tenant=\"ops\",model=\"\",outcome=\"client_error\"} 1");
  }
}
