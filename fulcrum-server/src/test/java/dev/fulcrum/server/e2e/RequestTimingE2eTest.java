package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferParameter;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A request's own timing and cost ({@code timing: true}) over real sockets, against the demo
 * repository's fraud classifier served at a price: REST JSON, REST with the binary extension and
 * gRPC answer it in the response's parameters (REST also as a {@code Server-Timing} header), a
 * request that does not ask gets none, and a timing of another type is refused naming it. Only
 * relations between the figures are checked, never durations.
 */
class RequestTimingE2eTest {
  private static final Path DEMO = Path.of("..", "demo", "models").toAbsolutePath().normalize();
  private static final Path MINILM_FILE =
      DEMO.resolve("all_minilm_l6_v2").resolve("1").resolve("all-minilm-l6-v2-q.onnx");
  private static final double PRICE = 3.6;
  private static final Pattern SERVER_TIMING =
      Pattern.compile(
          "queue;dur=\\d+\\.\\d{3}, compute;dur=\\d+\\.\\d{3}(, steps;dur=\\d+\\.\\d{3})?,"
              + " total;dur=\\d+\\.\\d{3}(, cache;desc=hit)?");
  private static final String TWO_ROWS =
      "\"inputs\":[{\"name\":\"features\",\"shape\":[2,8],\"datatype\":\"FP32\","
          + "\"data\":[2500.0,3,0.9,800.0,14,20,1,0, 12.5,14,0.1,2.0,1,900,0,1]}]";

  @AutoClose private static E2eServer server; // and the gRPC port it started
  private static E2eServer.GrpcPort grpc;

  @BeforeAll
  static void start() throws Exception {
    assumeThat(DEMO.resolve("fraud_classifier")).as("the demo repository").isDirectory();
    server = E2eServer.startPriced(DEMO, PRICE);
    grpc = server.startGrpc();
  }

  /** The timing parameters of a REST response, checked for what every timing must satisfy. */
  private static JsonNode saneTiming(HttpResponse<byte[]> r, int requestRows) throws Exception {
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode p = E2eServer.header(r).get("parameters");
    assertThat(p).as("the response's parameters").isNotNull();
    long queue = p.get("queue_us").asLong();
    long compute = p.get("compute_us").asLong();
    long total = p.get("total_us").asLong();
    assertThat(queue).isNotNegative();
    assertThat(compute).isNotNegative();
    assertThat(queue + compute).isLessThanOrEqualTo(total);
    assertThat(p.get("request_rows").asInt()).isEqualTo(requestRows);
    assertThat(p.get("batch_rows").asInt()).isGreaterThanOrEqualTo(requestRows);
    assertThat(p.get("cache_hit").asBoolean()).isFalse();
    assertThat(p.get("cost_usd").isNumber()).as("priced: %s", p).isTrue();
    assertThat(p.get("cost_usd").asDouble()).isPositive();
    String header = r.headers().firstValue("Server-Timing").orElse("");
    assertThat(header).matches(SERVER_TIMING);
    return p;
  }

  @Test
  void restJsonAskedGetsItsTimingInParametersAndServerTiming() throws Exception {
    HttpResponse<byte[]> r =
        server.post(
            inferPath("fraud_classifier"), "{\"parameters\":{\"timing\":true}," + TWO_ROWS + "}");
    saneTiming(r, 2);
  }

  @Test
  void restBinaryAskedGetsItsTimingInTheJsonHeader() throws Exception {
    ByteBuffer features = ByteBuffer.allocate(8 * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : new float[] {2500, 3, 0.9f, 800, 14, 20, 1, 0}) {
      features.putFloat(f);
    }
    String json =
        "{\"parameters\":{\"timing\":true,\"binary_data_output\":true},"
            + "\"inputs\":[{\"name\":\"features\",\"shape\":[1,8],\"datatype\":\"FP32\","
            + "\"parameters\":{\"binary_data_size\":32}}]}";
    HttpResponse<byte[]> r = server.post(inferPath("fraud_classifier"), json, features.array());
    assertThat(r.headers().firstValue(E2eServer.HCL)).as("binary outputs").isPresent();
    saneTiming(r, 1);
  }

  @Test
  void restNotAskedGetsNoTiming() throws Exception {
    for (String parameters : new String[] {"", "\"parameters\":{\"timing\":false},"}) {
      HttpResponse<byte[]> r =
          server.post(inferPath("fraud_classifier"), "{" + parameters + TWO_ROWS + "}");
      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      assertThat(E2eServer.header(r).has("parameters")).as(text(r)).isFalse();
      assertThat(r.headers().firstValue("Server-Timing")).isEmpty();
    }
  }

  @Test
  void restTimingOfAnotherTypeIsA400NamingIt() throws Exception {
    HttpResponse<byte[]> r =
        server.post(
            inferPath("fraud_classifier"), "{\"parameters\":{\"timing\":1}," + TWO_ROWS + "}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(error(r)).contains("parameter 'timing' must be a boolean");
  }

  private static ModelInferRequest grpcRequest(Map<String, InferParameter> parameters) {
    InferTensorContents.Builder contents = InferTensorContents.newBuilder();
    for (float f : new float[] {2500, 3, 0.9f, 800, 14, 20, 1, 0}) {
      contents.addFp32Contents(f);
    }
    return ModelInferRequest.newBuilder()
        .setModelName("fraud_classifier")
        .putAllParameters(parameters)
        .addInputs(
            ModelInferRequest.InferInputTensor.newBuilder()
                .setName("features")
                .setDatatype("FP32")
                .addShape(1)
                .addShape(8)
                .setContents(contents))
        .build();
  }

  private static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub() {
    return GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  @Test
  void grpcAskedGetsItsTimingAsTypedParameters() {
    ModelInferResponse r =
        stub()
            .modelInfer(
                grpcRequest(
                    Map.of("timing", InferParameter.newBuilder().setBoolParam(true).build())));
    Map<String, InferParameter> p = r.getParametersMap();
    long queue = p.get("queue_us").getInt64Param();
    long compute = p.get("compute_us").getInt64Param();
    assertThat(queue + compute).isLessThanOrEqualTo(p.get("total_us").getInt64Param());
    assertThat(p.get("request_rows").getInt64Param()).isEqualTo(1);
    assertThat(p.get("batch_rows").getInt64Param()).isGreaterThanOrEqualTo(1);
    assertThat(p.get("cache_hit").getParameterChoiceCase())
        .isEqualTo(InferParameter.ParameterChoiceCase.BOOL_PARAM);
    assertThat(p.get("cost_usd").getParameterChoiceCase())
        .isEqualTo(InferParameter.ParameterChoiceCase.DOUBLE_PARAM);
    assertThat(p.get("cost_usd").getDoubleParam()).isPositive();
  }

  @Test
  void grpcNotAskedGetsNoParametersAndAnotherTypeIsInvalidArgument() {
    assertThat(stub().modelInfer(grpcRequest(Map.of())).getParametersMap()).isEmpty();
    assertThatThrownBy(
            () ->
                stub()
                    .modelInfer(
                        grpcRequest(
                            Map.of(
                                "timing", InferParameter.newBuilder().setInt64Param(1).build()))))
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(
            e ->
                assertThat(((StatusRuntimeException) e).getStatus().getCode())
                    .isEqualTo(Status.Code.INVALID_ARGUMENT))
        .hasMessageContaining("parameter 'timing' must be a boolean");
  }

  @Test
  void aPipelineRequestCountsItsStepsAndItsWholeSpan() throws Exception {
    assumeThat(MINILM_FILE).as("the MiniLM file (placed by the build)").isRegularFile();
    HttpResponse<byte[]> r =
        server.post(
            inferPath("minilm_text"),
            "{\"parameters\":{\"timing\":true},\"inputs\":[{\"name\":\"text\",\"shape\":[1,1],"
                + "\"datatype\":\"BYTES\",\"data\":[\"hello world\"]}]}");
    JsonNode p = saneTiming(r, 1);
    assertThat(p.get("steps_us").asLong()).as("tokenize and pool").isPositive();
    assertThat(
            p.get("queue_us").asLong() + p.get("compute_us").asLong() + p.get("steps_us").asLong())
        .isLessThanOrEqualTo(p.get("total_us").asLong());
    assertThat(r.headers().firstValue("Server-Timing").orElseThrow()).contains("steps;dur=");
  }
}
