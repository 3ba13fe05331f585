package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferParameter;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One suite, two transports: the same cases run over REST (java.net.http, binary tensor extension)
 * and over gRPC (raw contents), both against one {@link InferenceService}, so the two protocols
 * cannot drift apart in what they accept and how they fail.
 */
class ProtocolContractTest {
  /**
   * What a client sees: the output bytes and the response's parameters (as Long, Double, Boolean or
   * String, whichever the transport's type says), or a transport-neutral error.
   */
  record Outcome(
      byte[] output,
      List<Long> shape,
      Map<String, Object> parameters,
      ErrorCode error,
      String message) {
    static Outcome ok(byte[] output, List<Long> shape, Map<String, Object> parameters) {
      return new Outcome(output, shape, parameters, null, null);
    }

    static Outcome failed(ErrorCode error, String message) {
      return new Outcome(null, null, null, error, message);
    }
  }

  /** A protocol client reduced to what the contract needs: one input, one output. */
  interface ProtocolClient extends AutoCloseable {
    default Outcome infer(String model, DataType type, long[] shape, byte[] data) throws Exception {
      return infer(model, type, shape, data, null);
    }

    /** As above, with output OUT asked for Triton's classification of its top {@code k}. */
    default Outcome infer(
        String model, DataType type, long[] shape, byte[] data, @Nullable Object k)
        throws Exception {
      return infer(model, type, shape, data, k, Map.of());
    }

    /**
     * As above, with request parameters (a Boolean, Long, Double or String each, sent as the
     * transport's parameter of that type).
     */
    Outcome infer(
        String model,
        DataType type,
        long[] shape,
        byte[] data,
        @Nullable Object k,
        Map<String, Object> parameters)
        throws Exception;

    /**
     * Input IN named by a shared-memory region instead of data, as tritonclient's {@code
     * InferInput.set_shared_memory("r0", byteSize)} sends it.
     */
    Outcome inferFromSharedMemory(String model, DataType type, long[] shape, long byteSize)
        throws Exception;

    @Override
    void close();
  }

  static final class RestClient implements ProtocolClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String HCL = "Inference-Header-Content-Length";
    private final HttpClient http =
        HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final String base;

    RestClient(int port) {
      base = "http://127.0.0.1:" + port;
    }

    @Override
    public Outcome infer(
        String model,
        DataType type,
        long[] shape,
        byte[] data,
        @Nullable Object k,
        Map<String, Object> parameters)
        throws Exception {
      Map<String, Object> requestParameters = new java.util.LinkedHashMap<>(parameters);
      requestParameters.put("binary_data_output", true);
      String outputs =
          k == null
              ? ""
              : ",\"outputs\":[{\"name\":\"OUT\",\"parameters\":{\"classification\":"
                  + JSON.writeValueAsString(k)
                  + "}}]";
      byte[] header =
          ("{\"parameters\":%s,\"inputs\":[{\"name\":\"IN\","
                  + "\"datatype\":\"%s\",\"shape\":%s,\"parameters\":{\"binary_data_size\":%d}}]%s}")
              .formatted(
                  JSON.writeValueAsString(requestParameters),
                  type,
                  Arrays.toString(shape),
                  data.length,
                  outputs)
              .getBytes(StandardCharsets.UTF_8);
      ByteArrayOutputStream body = new ByteArrayOutputStream();
      body.write(header);
      body.write(data);
      HttpResponse<byte[]> r =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/v2/models/" + model + "/infer"))
                  .timeout(Duration.ofSeconds(30))
                  .header("Content-Type", "application/octet-stream")
                  .header(HCL, Integer.toString(header.length))
                  .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()))
                  .build(),
              HttpResponse.BodyHandlers.ofByteArray());
      if (r.statusCode() != 200) {
        return failed(r);
      }
      int jsonLength = Integer.parseInt(r.headers().firstValue(HCL).orElseThrow());
      JsonNode answer = JSON.readTree(Arrays.copyOfRange(r.body(), 0, jsonLength));
      JsonNode out = answer.get("outputs").get(0);
      List<Long> outShape =
          JSON.convertValue(
              out.get("shape"),
              JSON.getTypeFactory().constructCollectionType(List.class, Long.class));
      Map<String, Object> responseParameters = new java.util.LinkedHashMap<>();
      answer
          .path("parameters")
          .properties()
          .forEach(e -> responseParameters.put(e.getKey(), typed(e.getValue())));
      return Outcome.ok(
          Arrays.copyOfRange(r.body(), jsonLength, r.body().length), outShape, responseParameters);
    }

    /** A JSON parameter's value as the type its JSON says. */
    private static Object typed(JsonNode v) {
      if (v.isIntegralNumber()) {
        return v.asLong();
      }
      if (v.isNumber()) {
        return v.asDouble();
      }
      if (v.isBoolean()) {
        return v.asBoolean();
      }
      return v.asText();
    }

    @Override
    public Outcome inferFromSharedMemory(String model, DataType type, long[] shape, long byteSize)
        throws Exception {
      String body =
          ("{\"inputs\":[{\"name\":\"IN\",\"datatype\":\"%s\",\"shape\":%s,\"parameters\":"
                  + "{\"shared_memory_region\":\"r0\",\"shared_memory_byte_size\":%d}}]}")
              .formatted(type, Arrays.toString(shape), byteSize);
      HttpResponse<byte[]> r =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/v2/models/" + model + "/infer"))
                  .timeout(Duration.ofSeconds(30))
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofByteArray());
      return r.statusCode() == 200 ? Outcome.ok(r.body(), List.of(), Map.of()) : failed(r);
    }

    private static Outcome failed(HttpResponse<byte[]> r) throws Exception {
      String message = JSON.readTree(r.body()).get("error").asText();
      ErrorCode code =
          switch (r.statusCode()) {
            case 400 -> ErrorCode.INVALID_ARGUMENT;
            case 404 -> ErrorCode.NOT_FOUND;
            case 503 -> ErrorCode.UNAVAILABLE;
            case 429 -> ErrorCode.RESOURCE_EXHAUSTED;
            case 504 -> ErrorCode.DEADLINE_EXCEEDED;
            case 501 -> ErrorCode.UNIMPLEMENTED;
            default -> ErrorCode.INTERNAL;
          };
      return Outcome.failed(code, message);
    }

    @Override
    public void close() {
      http.close();
    }

    @Override
    public String toString() {
      return "REST";
    }
  }

  static final class GrpcClient implements ProtocolClient {
    private final ManagedChannel channel;

    GrpcClient(int port) {
      channel = GrpcServerTest.channel(port);
    }

    @Override
    public Outcome infer(
        String model,
        DataType type,
        long[] shape,
        byte[] data,
        @Nullable Object k,
        Map<String, Object> parameters) {
      ModelInferRequest.InferInputTensor.Builder in =
          ModelInferRequest.InferInputTensor.newBuilder().setName("IN").setDatatype(type.name());
      Arrays.stream(shape).forEach(in::addShape);
      ModelInferRequest.Builder request =
          ModelInferRequest.newBuilder()
              .setModelName(model)
              .addInputs(in)
              .addRawInputContents(ByteString.copyFrom(data));
      parameters.forEach((name, value) -> request.putParameters(name, parameter(value)));
      if (k != null) {
        // As tritonclient's InferRequestedOutput(name, class_count=k): an int64_param.
        request.addOutputs(
            ModelInferRequest.InferRequestedOutputTensor.newBuilder()
                .setName("OUT")
                .putParameters("classification", parameter(k)));
      }
      ModelInferResponse r;
      try {
        r =
            GRPCInferenceServiceGrpc.newBlockingStub(channel)
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .modelInfer(request.build());
      } catch (StatusRuntimeException e) {
        return Outcome.failed(
            ErrorCode.valueOf(e.getStatus().getCode().name()), e.getStatus().getDescription());
      }
      Map<String, Object> responseParameters = new java.util.LinkedHashMap<>();
      r.getParametersMap().forEach((name, p) -> responseParameters.put(name, typed(p)));
      return Outcome.ok(
          r.getRawOutputContents(0).toByteArray(),
          List.copyOf(r.getOutputs(0).getShapeList()),
          responseParameters);
    }

    /** A value as the InferParameter of its type (a String for any other). */
    private static InferParameter parameter(Object v) {
      InferParameter.Builder p = InferParameter.newBuilder();
      return switch (v) {
        case Boolean b -> p.setBoolParam(b).build();
        case Long n -> p.setInt64Param(n).build();
        case Double d -> p.setDoubleParam(d).build();
        default -> p.setStringParam(v.toString()).build();
      };
    }

    /** An InferParameter's value as the type it was sent as. */
    private static Object typed(InferParameter p) {
      return switch (p.getParameterChoiceCase()) {
        case BOOL_PARAM -> p.getBoolParam();
        case INT64_PARAM -> p.getInt64Param();
        case DOUBLE_PARAM -> p.getDoubleParam();
        case UINT64_PARAM -> p.getUint64Param();
        default -> p.getStringParam();
      };
    }

    @Override
    public Outcome inferFromSharedMemory(String model, DataType type, long[] shape, long byteSize) {
      ModelInferRequest.InferInputTensor.Builder in =
          ModelInferRequest.InferInputTensor.newBuilder()
              .setName("IN")
              .setDatatype(type.name())
              .putParameters("shared_memory_region", stringParam("r0"))
              .putParameters(
                  "shared_memory_byte_size",
                  InferParameter.newBuilder().setInt64Param(byteSize).build());
      Arrays.stream(shape).forEach(in::addShape);
      try {
        ModelInferResponse r =
            GRPCInferenceServiceGrpc.newBlockingStub(channel)
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .modelInfer(
                    ModelInferRequest.newBuilder().setModelName(model).addInputs(in).build());
        return Outcome.ok(r.toByteArray(), List.of(), Map.of());
      } catch (StatusRuntimeException e) {
        return Outcome.failed(
            ErrorCode.valueOf(e.getStatus().getCode().name()), e.getStatus().getDescription());
      }
    }

    private static InferParameter stringParam(String value) {
      return InferParameter.newBuilder().setStringParam(value).build();
    }

    @Override
    public void close() {
      channel.shutdownNow();
    }

    @Override
    public String toString() {
      return "gRPC";
    }
  }

  @TempDir static Path repo;
  private static InferenceService service;
  private static HttpServer http;
  private static GrpcServer grpc;
  private static List<ProtocolClient> clients;

  /** A model priced by its own config, so a timed request's answer has a {@code cost_usd}. */
  private static final String PRICED = "priced";

  @BeforeAll
  static void start() throws Exception {
    Files.createDirectories(repo.resolve(PRICED).resolve("1"));
    Files.writeString(repo.resolve(PRICED).resolve("config.yaml"), "slo:\n  cost-per-hour: 3.6\n");
    Files.writeString(
        repo.resolve(PRICED).resolve("1").resolve("model.onnx"),
        "{\"mode\":\"identity\",\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}],"
            + "\"outputs\":[{\"name\":\"OUT\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}]}");
    service = TestModels.service(repo);
    http = new HttpServer(service, HttpServerConfig.ephemeral()).start();
    grpc = new GrpcServer(service, GrpcServerConfig.ephemeral()).start();
    clients = List.of(new RestClient(http.port()), new GrpcClient(grpc.port()));
  }

  @AfterAll
  static void stop() {
    clients.forEach(ProtocolClient::close);
    grpc.close();
    http.close();
    service.repository().close();
  }

  static Stream<Arguments> clientsAndTypes() {
    return Stream.of(0, 1)
        .flatMap(c -> Arrays.stream(DataType.values()).map(t -> Arguments.of(c, t)));
  }

  static Stream<Integer> bothClients() {
    return Stream.of(0, 1);
  }

  @ParameterizedTest(name = "{1} over client #{0}")
  @MethodSource("clientsAndTypes")
  void roundTripsEveryDatatype(int client, DataType type) throws Exception {
    byte[] data = HttpServerTest.binaryValues(type, 6);
    Outcome o = clients.get(client).infer(TestModels.echo(type), type, new long[] {2, 3}, data);
    assertThat(o.error()).as("%s: %s", clients.get(client), o.message()).isNull();
    assertThat(o.shape()).containsExactly(2L, 3L);
    assertThat(o.output()).isEqualTo(data);
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("bothClients")
  void classificationAnswersEachRowsTopKAsTritonStrings(int client) throws Exception {
    // Triton's classification extension on a plain model's output: BYTES [rows, k] of
    // "value:index", best first, a tie to the lower index.
    java.nio.ByteBuffer in =
        java.nio.ByteBuffer.allocate(2 * 4 * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (float v : new float[] {0.1f, 0.7f, 0.2f, 0.7f, 3f, -1f, 2f, 0f}) {
      in.putFloat(v);
    }
    Outcome o =
        clients
            .get(client)
            .infer(
                TestModels.echo(DataType.FP32), DataType.FP32, new long[] {2, 4}, in.array(), 2L);
    assertThat(o.error()).as("%s: %s", clients.get(client), o.message()).isNull();
    assertThat(o.shape()).containsExactly(2L, 2L);
    assertThat(bytesElements(o.output()))
        .containsExactly("0.700000:1", "0.700000:3", "3.000000:0", "2.000000:2");
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("bothClients")
  void classificationAddsTheLabelsOfAnOutputWithALabelsFile(int client) throws Exception {
    // config.yaml's outputs[].labels (config.pbtxt's label_filename): "value:index:label", and
    // "value:index" for a class whose line is empty.
    java.nio.ByteBuffer in =
        java.nio.ByteBuffer.allocate(4 * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (float v : new float[] {0.1f, 0.2f, 0.9f, 0.5f}) {
      in.putFloat(v);
    }
    Outcome o =
        clients.get(client).infer("labeled", DataType.FP32, new long[] {1, 4}, in.array(), 3L);
    assertThat(o.error()).as("%s: %s", clients.get(client), o.message()).isNull();
    assertThat(bytesElements(o.output()))
        .containsExactly("0.900000:2", "0.500000:3:bird", "0.200000:1:dog");
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("bothClients")
  void classificationOfMoreClassesThanThereAreGivesThemAll(int client) throws Exception {
    byte[] data = HttpServerTest.binaryValues(DataType.INT32, 3);
    Outcome o =
        clients
            .get(client)
            .infer(TestModels.echo(DataType.INT32), DataType.INT32, new long[] {1, 3}, data, 10L);
    assertThat(o.error()).as("%s: %s", clients.get(client), o.message()).isNull();
    assertThat(o.shape()).containsExactly(1L, 3L);
    assertThat(bytesElements(o.output())).hasSize(3).allMatch(e -> e.matches("-?\\d+:[0-2]"));
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("bothClients")
  void classificationOfABadCountOrOfBytesIsInvalidArgument(int client) throws Exception {
    for (Object k : List.<Object>of(0L, "many")) {
      Outcome o =
          clients
              .get(client)
              .infer(
                  TestModels.echo(DataType.FP32), DataType.FP32, new long[] {1, 2}, new byte[8], k);
      assertThat(o.error()).as("k=%s", k).isEqualTo(ErrorCode.INVALID_ARGUMENT);
      assertThat(o.message()).contains("'OUT'", "classification", "1..65536");
    }
    byte[] bytes = HttpServerTest.binaryValues(DataType.BYTES, 2);
    Outcome o =
        clients
            .get(client)
            .infer(TestModels.echo(DataType.BYTES), DataType.BYTES, new long[] {1, 2}, bytes, 1L);
    assertThat(o.error()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(o.message()).contains("'OUT'", "BYTES", "classification");
  }

  /** The response parameters of a request that asked for its timing ({@code timing: true}). */
  private static final List<String> TIMING =
      List.of(
          "queue_us",
          "compute_us",
          "total_us",
          "batch_rows",
          "request_rows",
          "cache_hit",
          "cost_usd");

  private static Outcome timed(int client, String model, Map<String, Object> parameters)
      throws Exception {
    return clients
        .get(client)
        .infer(model, DataType.FP32, new long[] {2, 2}, new byte[16], null, parameters);
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("bothClients")
  void timingAskedComesBackAsTypedResponseParameters(int client) throws Exception {
    Outcome o = timed(client, PRICED, Map.of("timing", true));
    assertThat(o.error()).as("%s: %s", clients.get(client), o.message()).isNull();
    Map<String, Object> p = o.parameters();
    assertThat(p).as("a plain model: no steps_us").containsOnlyKeys(TIMING);
    for (String integer : List.of("queue_us", "compute_us", "total_us", "batch_rows")) {
      assertThat(p.get(integer)).as(integer).isInstanceOf(Long.class);
    }
    assertThat(p.get("request_rows")).isEqualTo(2L);
    assertThat((Long) p.get("queue_us") + (Long) p.get("compute_us"))
        .isLessThanOrEqualTo((Long) p.get("total_us"));
    assertThat((Long) p.get("batch_rows")).isGreaterThanOrEqualTo(2);
    assertThat(p.get("cache_hit")).isEqualTo(false);
    assertThat(p.get("cost_usd"))
        .isInstanceOfSatisfying(Double.class, c -> assertThat(c).isPositive());

    Outcome unpriced = timed(client, TestModels.echo(DataType.FP32), Map.of("timing", true));
    assertThat(unpriced.parameters())
        .as("no price: no cost_usd")
        .containsOnlyKeys(TIMING.subList(0, TIMING.size() - 1));
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("bothClients")
  void timingNotAskedIsNotAnswered(int client) throws Exception {
    List<Map<String, Object>> notAsked = List.of(Map.of(), Map.of("timing", false));
    for (Map<String, Object> parameters : notAsked) {
      Outcome o = timed(client, PRICED, parameters);
      assertThat(o.error()).as("%s: %s", parameters, o.message()).isNull();
      assertThat(o.parameters())
          .as("%s", parameters)
          .doesNotContainKeys(TIMING.toArray(String[]::new));
    }
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("bothClients")
  void timingOfAnotherTypeIsInvalidArgumentNamingIt(int client) throws Exception {
    // A boolean, or the string of one ("true", "false"), is what it takes.
    for (Object timing : List.<Object>of(1L, 1.5, "yes")) {
      Outcome o = timed(client, PRICED, Map.of("timing", timing));
      assertThat(o.error()).as("timing=%s", timing).isEqualTo(ErrorCode.INVALID_ARGUMENT);
      assertThat(o.message()).contains("parameter 'timing' must be a boolean");
    }
  }

  /** The elements of a BYTES tensor in Triton's binary layout (u32 LE length, then bytes). */
  private static List<String> bytesElements(byte[] raw) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(raw).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    List<String> out = new java.util.ArrayList<>();
    while (b.hasRemaining()) {
      byte[] e = new byte[b.getInt()];
      b.get(e);
      out.add(new String(e, StandardCharsets.UTF_8));
    }
    return out;
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("bothClients")
  void anInputInARegionOfAServerWithoutClientShmSaysSoNotMissingData(int client) throws Exception {
    // tritonclient's set_shared_memory: the tensor names a region and carries no data. gRPC once
    // answered "needs 2 values in contents.fp32_contents but has 0", which sends a Triton user
    // looking for a bug in their request instead of at the server's --allow-client-shm.
    Outcome o =
        clients
            .get(client)
            .inferFromSharedMemory(
                TestModels.echo(DataType.FP32), DataType.FP32, new long[] {1, 2}, 8);
    assertThat(o.error()).as("%s", clients.get(client)).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(o.message())
        .contains("'r0'", "Client shared memory is disabled")
        .doesNotContain("fp32_contents");
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("bothClients")
  void unknownModelIsNotFound(int client) throws Exception {
    Outcome o =
        clients.get(client).infer("no_such_model", DataType.FP32, new long[] {1, 1}, new byte[4]);
    assertThat(o.error()).isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(o.message()).contains("no_such_model");
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("bothClients")
  void badShapeIsInvalidArgumentNamingTheTensor(int client) throws Exception {
    // The echo models take rank-2 inputs (batch first); a rank-3 tensor does not fit.
    Outcome o =
        clients
            .get(client)
            .infer(
                TestModels.echo(DataType.FP32), DataType.FP32, new long[] {1, 1, 2}, new byte[8]);
    assertThat(o.error()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(o.message()).contains("'IN'", "shape");
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("bothClients")
  void dataThatDoesNotFitTheShapeIsInvalidArgument(int client) throws Exception {
    Outcome o =
        clients
            .get(client)
            .infer(TestModels.echo(DataType.FP32), DataType.FP32, new long[] {1, 2}, new byte[4]);
    assertThat(o.error()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(o.message()).contains("'IN'");
  }

  static Stream<Arguments> clientsAndFloatTypes() {
    return Stream.of(0, 1)
        .flatMap(
            c ->
                Stream.of(DataType.FP16, DataType.BF16, DataType.FP32, DataType.FP64)
                    .map(t -> Arguments.of(c, t)));
  }

  @ParameterizedTest(name = "{1} over client #{0}")
  @MethodSource("clientsAndFloatTypes")
  void nonFiniteValuesAreInvalidArgumentNamingModelInputAndElement(int client, DataType type)
      throws Exception {
    byte[] data = new byte[3 * type.byteSize()];
    // element 2 has every exponent bit set: Infinity or NaN in each of the four formats
    data[data.length - 1] = (byte) 0x7F;
    data[data.length - 2] = (byte) 0xF0;
    Outcome o = clients.get(client).infer(TestModels.echo(type), type, new long[] {1, 3}, data);
    assertThat(o.error()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(o.message()).contains(TestModels.echo(type), "'IN'", "element 2");
  }

  @ParameterizedTest(name = "client #{0}")
  @MethodSource("bothClients")
  void aShapeWhoseSizeOverflowsIsInvalidArgumentWithoutANegativeSize(int client) throws Exception {
    Outcome o =
        clients
            .get(client)
            .infer(
                TestModels.echo(DataType.FP32),
                DataType.FP32,
                new long[] {1, 4611686018427387912L},
                new byte[4]);
    assertThat(o.error()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(o.message()).contains("'IN'", "too large").doesNotContain("-");
  }
}
