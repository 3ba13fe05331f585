package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.JsonFormat;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.stats.ModelStatistics;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.grpc.proto.CudaSharedMemoryRegisterRequest;
import dev.fulcrum.server.grpc.proto.CudaSharedMemoryStatusRequest;
import dev.fulcrum.server.grpc.proto.CudaSharedMemoryUnregisterRequest;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferParameter;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelConfig;
import dev.fulcrum.server.grpc.proto.ModelConfigRequest;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.ModelInstanceGroup;
import dev.fulcrum.server.grpc.proto.ModelMetadataRequest;
import dev.fulcrum.server.grpc.proto.ModelMetadataResponse;
import dev.fulcrum.server.grpc.proto.ModelReadyRequest;
import dev.fulcrum.server.grpc.proto.ModelStatisticsRequest;
import dev.fulcrum.server.grpc.proto.ModelStreamInferResponse;
import dev.fulcrum.server.grpc.proto.RepositoryIndexRequest;
import dev.fulcrum.server.grpc.proto.RepositoryIndexResponse;
import dev.fulcrum.server.grpc.proto.RepositoryModelLoadRequest;
import dev.fulcrum.server.grpc.proto.RepositoryModelUnloadRequest;
import dev.fulcrum.server.grpc.proto.ServerLiveRequest;
import dev.fulcrum.server.grpc.proto.ServerMetadataRequest;
import dev.fulcrum.server.grpc.proto.ServerMetadataResponse;
import dev.fulcrum.server.grpc.proto.ServerReadyRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryRegisterRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryStatusRequest;
import dev.fulcrum.server.grpc.proto.SystemSharedMemoryUnregisterRequest;
import dev.fulcrum.server.grpc.proto.TraceSettingRequest;
import dev.fulcrum.server.grpc.proto.TraceSettingResponse;
import dev.fulcrum.server.protocol.ModelJson;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class GrpcServerTest {
  /** Small enough that a test can exceed it cheaply. */
  private static final int MAX_MESSAGE = 256 * 1024;

  @TempDir static Path repo;
  private static InferenceService service;
  private static GrpcServer server;
  private static ManagedChannel channel;
  private static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub;

  @BeforeAll
  static void start() throws Exception {
    service = TestModels.service(repo);
    server =
        new GrpcServer(service, GrpcServerConfig.ephemeral().withMaxMessageSize(MAX_MESSAGE))
            .start();
    channel = channel(server.port());
    // A deadline per call: withDeadlineAfter on the shared stub is one absolute deadline, which a
    // loaded machine passes before the class's last tests run.
    stub =
        GRPCInferenceServiceGrpc.newBlockingStub(channel)
            .withInterceptors(
                new ClientInterceptor() {
                  @Override
                  public <Q, R> ClientCall<Q, R> interceptCall(
                      MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
                    return next.newCall(
                        method,
                        options.getDeadline() != null
                            ? options
                            : options.withDeadlineAfter(30, TimeUnit.SECONDS));
                  }
                });
  }

  static ManagedChannel channel(int port) {
    return NettyChannelBuilder.forAddress("127.0.0.1", port)
        .usePlaintext()
        .maxInboundMessageSize(64 * 1024 * 1024)
        .build();
  }

  @AfterAll
  static void stop() throws InterruptedException {
    FakeRuntime.openGate();
    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    server.close();
    service.repository().close();
  }

  // ---- helpers -------------------------------------------------------------------------------

  static ModelInferRequest.InferInputTensor.Builder input(String name, DataType t, long... shape) {
    ModelInferRequest.InferInputTensor.Builder b =
        ModelInferRequest.InferInputTensor.newBuilder().setName(name).setDatatype(t.name());
    for (long d : shape) {
      b.addShape(d);
    }
    return b;
  }

  static ModelInferRequest rawRequest(String model, DataType t, byte[] data, long... shape) {
    return ModelInferRequest.newBuilder()
        .setModelName(model)
        .addInputs(input("IN", t, shape))
        .addRawInputContents(ByteString.copyFrom(data))
        .build();
  }

  static ModelInferRequest typedRequest(String model, DataType t, byte[] data, long... shape) {
    return ModelInferRequest.newBuilder()
        .setModelName(model)
        .addInputs(input("IN", t, shape).setContents(typed(t, data)))
        .build();
  }

  static InferParameter bool(boolean v) {
    return InferParameter.newBuilder().setBoolParam(v).build();
  }

  /** The typed contents holding the same values as raw little-endian bytes. */
  static InferTensorContents typed(DataType t, byte[] raw) {
    InferTensorContents.Builder c = InferTensorContents.newBuilder();
    ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
    while (b.hasRemaining()) {
      switch (t) {
        case BOOL -> c.addBoolContents(b.get() != 0);
        case INT8 -> c.addIntContents(b.get());
        case INT16 -> c.addIntContents(b.getShort());
        case INT32 -> c.addIntContents(b.getInt());
        case INT64 -> c.addInt64Contents(b.getLong());
        case UINT8 -> c.addUintContents(Byte.toUnsignedInt(b.get()));
        case UINT16 -> c.addUintContents(Short.toUnsignedInt(b.getShort()));
        case UINT32 -> c.addUintContents(b.getInt());
        case UINT64 -> c.addUint64Contents(b.getLong());
        case FP32 -> c.addFp32Contents(b.getFloat());
        case FP64 -> c.addFp64Contents(b.getDouble());
        case BYTES -> {
          byte[] e = new byte[b.getInt()];
          b.get(e);
          c.addBytesContents(ByteString.copyFrom(e));
        }
        case FP16, BF16 -> throw new IllegalArgumentException(t + " has no typed field");
      }
    }
    return c.build();
  }

  static StatusRuntimeException failure(Runnable call) {
    return catchThrowableOfType(StatusRuntimeException.class, call::run);
  }

  static void assertStatus(Runnable call, Status.Code code, String... fragments) {
    StatusRuntimeException e = failure(call);
    assertThat(e).as("expected %s", code).isNotNull();
    assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(code);
    for (String f : fragments) {
      assertThat(e.getStatus().getDescription()).contains(f);
    }
  }

  // ---- health, metadata, repository ----------------------------------------------------------

  @Test
  void liveReadyAndServerMetadata() {
    assertThat(stub.serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
    assertThat(stub.serverReady(ServerReadyRequest.getDefaultInstance()).getReady()).isTrue();
    ServerMetadataResponse m = stub.serverMetadata(ServerMetadataRequest.getDefaultInstance());
    assertThat(m.getName()).isEqualTo("fulcrum");
    assertThat(m.getVersion()).isNotBlank().doesNotContain("${");
    assertThat(m.getExtensionsList()).containsExactlyElementsOf(ModelJson.EXTENSIONS);
  }

  @Test
  void modelMetadata() {
    ModelMetadataResponse m =
        stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("simple").build());
    assertThat(m.getName()).isEqualTo("simple");
    assertThat(m.getVersionsList()).containsExactly("1");
    assertThat(m.getPlatform()).isEqualTo("onnxruntime_onnx");
    assertThat(m.getInputsList())
        .extracting(t -> t.getName() + ":" + t.getDatatype() + t.getShapeList())
        .containsExactly("INPUT0:INT32[-1, 16]", "INPUT1:INT32[-1, 16]");
    assertThat(m.getOutputsList())
        .extracting(t -> t.getName())
        .containsExactly("OUTPUT0", "OUTPUT1");
    ModelMetadataResponse v =
        stub.modelMetadata(
            ModelMetadataRequest.newBuilder().setName("versioned").setVersion("1").build());
    assertThat(v.getVersionsList()).containsExactlyInAnyOrder("1", "2");
    assertStatus(
        () -> stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("nope").build()),
        Status.Code.NOT_FOUND,
        "nope");
  }

  @Test
  void modelReady() {
    assertThat(stub.modelReady(ModelReadyRequest.newBuilder().setName("simple").build()).getReady())
        .isTrue();
    assertThat(
            stub.modelReady(
                    ModelReadyRequest.newBuilder().setName("versioned").setVersion("1").build())
                .getReady())
        .isTrue();
    assertThat(stub.modelReady(ModelReadyRequest.newBuilder().setName("broken").build()).getReady())
        .isFalse();
    assertStatus(
        () -> stub.modelReady(ModelReadyRequest.newBuilder().setName("nope").build()),
        Status.Code.NOT_FOUND);
    assertStatus(
        () ->
            stub.modelReady(
                ModelReadyRequest.newBuilder().setName("simple").setVersion("9").build()),
        Status.Code.NOT_FOUND,
        "9");
  }

  @Test
  void modelConfigHasTritonFields() {
    ModelConfig c =
        stub.modelConfig(ModelConfigRequest.newBuilder().setName("simple").build()).getConfig();
    assertThat(c.getName()).isEqualTo("simple");
    assertThat(c.getPlatform()).isEqualTo("onnxruntime_onnx");
    assertThat(c.getBackend()).isEqualTo("onnxruntime");
    assertThat(c.getMaxBatchSize()).isEqualTo(8);
    assertThat(c.getInput(0).getName()).isEqualTo("INPUT0");
    assertThat(c.getInput(0).getDataType())
        .isEqualTo(dev.fulcrum.server.grpc.proto.DataType.TYPE_INT32);
    assertThat(c.getInput(0).getDimsList()).containsExactly(16L);
    assertThat(c.hasDynamicBatching()).isTrue();
    assertThat(c.getInstanceGroup(0).getKind()).isEqualTo(ModelInstanceGroup.Kind.KIND_CPU);
    assertThat(c.getParametersMap()).containsKey("intra_op_thread_count");
    ModelConfig pair =
        stub.modelConfig(ModelConfigRequest.newBuilder().setName("pair").build()).getConfig();
    assertThat(pair.getMaxBatchSize()).isZero();
    assertThat(pair.getInput(1).getDataType().name()).isEqualTo("TYPE_STRING");
  }

  /** Every field the REST config has must exist in the .proto, or gRPC clients would miss it. */
  @Test
  void modelConfigProtoCoversEveryRestField() throws Exception {
    for (String model : List.of("simple", "pair", "versioned", "echo_bytes")) {
      var json =
          ModelJson.tritonConfig(service.repository().resolve(model, "").config()).toString();
      ModelConfig.Builder strict = ModelConfig.newBuilder();
      JsonFormat.parser().merge(json, strict); // throws on any field the proto lacks
      assertThat(strict.getName()).isEqualTo(model);
    }
  }

  @Test
  void repositoryIndex() {
    RepositoryIndexResponse all = stub.repositoryIndex(RepositoryIndexRequest.getDefaultInstance());
    assertThat(all.getModelsList())
        .extracting(m -> m.getName() + "/" + m.getVersion() + "/" + m.getState())
        .contains("simple/1/READY", "versioned/1/READY", "versioned/2/READY");
    assertThat(all.getModelsList())
        .filteredOn(m -> m.getName().equals("broken"))
        .singleElement()
        .satisfies(
            m -> {
              assertThat(m.getState()).isEqualTo("UNAVAILABLE");
              assertThat(m.getReason()).isNotBlank();
            });
    RepositoryIndexResponse ready =
        stub.repositoryIndex(RepositoryIndexRequest.newBuilder().setReady(true).build());
    assertThat(ready.getModelsList()).extracting(m -> m.getName()).doesNotContain("broken");
    assertThat(ready.getModelsCount()).isEqualTo(all.getModelsCount() - 1);
  }

  @Test
  void statisticsCountInferencesAndModelControlIsUnimplemented() {
    stub.modelInfer(
        ModelInferRequest.newBuilder()
            .setModelName("echo_int32")
            .addInputs(
                ModelInferRequest.InferInputTensor.newBuilder()
                    .setName("IN")
                    .setDatatype("INT32")
                    .addShape(2)
                    .addShape(1)
                    .setContents(
                        InferTensorContents.newBuilder().addIntContents(1).addIntContents(2)))
            .build());
    var stats =
        stub.modelStatistics(ModelStatisticsRequest.newBuilder().setName("echo_int32").build());
    assertThat(stats.getModelStatsList()).hasSize(1);
    assertThat(stats.getModelStats(0).getInferenceCount()).isGreaterThanOrEqualTo(2);
    assertThat(stats.getModelStats(0).getInferenceStats().getSuccess().getCount())
        .isGreaterThanOrEqualTo(1);
    assertThat(
            stub.modelStatistics(ModelStatisticsRequest.getDefaultInstance()).getModelStatsCount())
        .isGreaterThan(1);
    assertStatus(
        () -> stub.modelStatistics(ModelStatisticsRequest.newBuilder().setName("nope").build()),
        Status.Code.NOT_FOUND,
        "nope");
    assertStatus(
        () ->
            stub.repositoryModelLoad(
                RepositoryModelLoadRequest.newBuilder().setModelName("simple").build()),
        Status.Code.UNIMPLEMENTED,
        "simple");
    assertStatus(
        () ->
            stub.repositoryModelUnload(
                RepositoryModelUnloadRequest.newBuilder().setModelName("simple").build()),
        Status.Code.UNIMPLEMENTED,
        "simple");
  }

  @Test
  void traceSettingReadsOffAndRefusesAChangeWithoutTracing() {
    // tritonclient.grpc's get_trace_settings / update_trace_settings, on a server started without
    // --trace-otlp-endpoint: REST's GET reads OFF and its POST is a 400; here the same words.
    TraceSettingResponse off = stub.traceSetting(TraceSettingRequest.getDefaultInstance());
    assertThat(off.getSettingsMap().get("trace_level").getValueList()).containsExactly("OFF");
    assertThat(off.getSettingsMap().get("trace_mode").getValueList())
        .containsExactly("opentelemetry");
    assertStatus(
        () ->
            stub.traceSetting(
                TraceSettingRequest.newBuilder()
                    .setModelName("simple")
                    .putSettings(
                        "trace_rate",
                        TraceSettingRequest.SettingValue.newBuilder().addValue("10").build())
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "tracing is off on this server");
  }

  @Test
  void sharedMemoryRegistrationIsOffByDefaultAsTritonsAllowClientShm() {
    // tritonclient.grpc's {register,unregister}_{system,cuda}_shared_memory and status calls to a
    // server started without --allow-client-shm: no region, and registering says how to turn it
    // on, in REST's words (its 501).
    String disabled = "--allow-client-shm=true";
    assertThat(
            stub.systemSharedMemoryStatus(SystemSharedMemoryStatusRequest.getDefaultInstance())
                .getRegionsMap())
        .isEmpty();
    assertThat(
            stub.cudaSharedMemoryStatus(CudaSharedMemoryStatusRequest.getDefaultInstance())
                .getRegionsMap())
        .isEmpty();
    assertStatus(
        () ->
            stub.systemSharedMemoryRegister(
                SystemSharedMemoryRegisterRequest.newBuilder()
                    .setName("r0")
                    .setKey("/r0")
                    .setByteSize(64)
                    .build()),
        Status.Code.UNIMPLEMENTED,
        disabled);
    assertStatus(
        () ->
            stub.systemSharedMemoryUnregister(
                SystemSharedMemoryUnregisterRequest.getDefaultInstance()),
        Status.Code.UNIMPLEMENTED,
        disabled);
    assertStatus(
        () ->
            stub.cudaSharedMemoryRegister(
                CudaSharedMemoryRegisterRequest.newBuilder().setName("g0").setByteSize(64).build()),
        Status.Code.UNIMPLEMENTED,
        disabled);
    assertStatus(
        () ->
            stub.cudaSharedMemoryUnregister(CudaSharedMemoryUnregisterRequest.getDefaultInstance()),
        Status.Code.UNIMPLEMENTED,
        disabled);
    assertStatus(
        () ->
            stub.systemSharedMemoryStatus(
                SystemSharedMemoryStatusRequest.newBuilder().setName("r0").build()),
        Status.Code.NOT_FOUND,
        "Unable to find system shared memory region: 'r0'");
  }

  @Test
  void healthServiceFollowsReadiness() {
    HealthGrpc.HealthBlockingStub health =
        HealthGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    assertThat(health.check(HealthCheckRequest.getDefaultInstance()).getStatus())
        .isEqualTo(ServingStatus.SERVING);
    assertThat(
            health
                .check(HealthCheckRequest.newBuilder().setService(GrpcServer.SERVICE_NAME).build())
                .getStatus())
        .isEqualTo(ServingStatus.SERVING);
    assertStatus(
        () -> health.check(HealthCheckRequest.newBuilder().setService("nope").build()),
        Status.Code.NOT_FOUND);
  }

  @Test
  void healthServiceAnswersPerModel() throws Exception {
    HealthGrpc.HealthBlockingStub health =
        HealthGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    assertThat(
            health.check(HealthCheckRequest.newBuilder().setService("simple").build()).getStatus())
        .isEqualTo(ServingStatus.SERVING);
    assertThat(
            health.check(HealthCheckRequest.newBuilder().setService("broken").build()).getStatus())
        .isEqualTo(ServingStatus.NOT_SERVING);
    // Watch (what Kubernetes' and Envoy's gRPC probes use) reports the same for a model.
    var watch = health.watch(HealthCheckRequest.newBuilder().setService("simple").build());
    Await.until(
        "the watch reports the model serving",
        () -> watch.next().getStatus() == ServingStatus.SERVING);
  }

  @Test
  void aWatchsFirstAnswerIsTheModelsStatusNow() {
    // The health poller copies the models' statuses only while a Watch is open (with hundreds of
    // models it was the idle server's busiest thread), so a new Watch's request makes its own
    // name's status current: the first answer is the model's, never SERVICE_UNKNOWN.
    HealthGrpc.HealthBlockingStub health =
        HealthGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    assertThat(
            health
                .watch(HealthCheckRequest.newBuilder().setService("simple").build())
                .next()
                .getStatus())
        .isEqualTo(ServingStatus.SERVING);
    assertThat(
            health
                .watch(HealthCheckRequest.newBuilder().setService("broken").build())
                .next()
                .getStatus())
        .isEqualTo(ServingStatus.NOT_SERVING);
    assertThat(
            health
                .watch(HealthCheckRequest.newBuilder().setService("nope").build())
                .next()
                .getStatus())
        .isEqualTo(ServingStatus.SERVICE_UNKNOWN);
    assertThat(health.watch(HealthCheckRequest.getDefaultInstance()).next().getStatus())
        .isEqualTo(ServingStatus.SERVING);
  }

  @Test
  void reflectionListsTheServices() throws Exception {
    CompletableFuture<List<String>> names = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests =
        ServerReflectionGrpc.newStub(channel)
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .serverReflectionInfo(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ServerReflectionResponse r) {
                    names.complete(
                        r.getListServicesResponse().getServiceList().stream()
                            .map(ServiceResponse::getName)
                            .toList());
                  }

                  @Override
                  public void onError(Throwable t) {
                    names.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("*").build());
    requests.onCompleted();
    assertThat(names.get(30, TimeUnit.SECONDS))
        .contains(
            "inference.GRPCInferenceService",
            "tensorflow.serving.PredictionService",
            "tensorflow.serving.ModelService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection");
  }

  // ---- inference: both encodings -------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(DataType.class)
  void rawRoundTrip(DataType t) {
    byte[] data = HttpServerTest.binaryValues(t, 6);
    ModelInferResponse r =
        stub.modelInfer(
            rawRequest(TestModels.echo(t), t, data, 3, 2).toBuilder().setId("r").build());
    assertThat(r.getModelName()).isEqualTo(TestModels.echo(t));
    assertThat(r.getModelVersion()).isEqualTo("1");
    assertThat(r.getId()).isEqualTo("r");
    assertThat(r.getOutputsList()).hasSize(1);
    assertThat(r.getOutputs(0).getName()).isEqualTo("OUT");
    assertThat(r.getOutputs(0).getDatatype()).isEqualTo(t.name());
    assertThat(r.getOutputs(0).getShapeList()).containsExactly(3L, 2L);
    assertThat(r.getOutputs(0).hasContents()).isFalse();
    assertThat(r.getRawOutputContentsList()).hasSize(1);
    assertThat(r.getRawOutputContents(0).toByteArray()).isEqualTo(data);
  }

  @ParameterizedTest
  @EnumSource(
      value = DataType.class,
      names = {"FP16", "BF16"},
      mode = EnumSource.Mode.EXCLUDE)
  void typedRoundTrip(DataType t) {
    byte[] data = HttpServerTest.binaryValues(t, 6);
    ModelInferResponse r = stub.modelInfer(typedRequest(TestModels.echo(t), t, data, 2, 3));
    assertThat(r.getRawOutputContentsCount()).isZero();
    assertThat(r.getOutputs(0).getShapeList()).containsExactly(2L, 3L);
    assertThat(r.getOutputs(0).getContents()).isEqualTo(typed(t, data));
  }

  @ParameterizedTest
  @EnumSource(
      value = DataType.class,
      names = {"FP16", "BF16"},
      mode = EnumSource.Mode.EXCLUDE)
  void rawOutputParameterChoosesTheResponseEncoding(DataType t) {
    byte[] data = HttpServerTest.binaryValues(t, 4);
    ModelInferResponse raw =
        stub.modelInfer(
            typedRequest(TestModels.echo(t), t, data, 1, 4).toBuilder()
                .putParameters("raw_output", bool(true))
                .build());
    assertThat(raw.getOutputs(0).hasContents()).isFalse();
    assertThat(raw.getRawOutputContents(0).toByteArray()).isEqualTo(data);
    ModelInferResponse typed =
        stub.modelInfer(
            rawRequest(TestModels.echo(t), t, data, 1, 4).toBuilder()
                .putParameters("raw_output", bool(false))
                .build());
    assertThat(typed.getRawOutputContentsCount()).isZero();
    assertThat(typed.getOutputs(0).getContents()).isEqualTo(typed(t, data));
  }

  @ParameterizedTest
  @EnumSource(
      value = DataType.class,
      names = {"FP16", "BF16"})
  void halfFloatsTravelRawOnly(DataType t) {
    assertStatus(
        () ->
            stub.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(TestModels.echo(t))
                    .addInputs(input("IN", t, 1, 1))
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "'IN'",
        t.name(),
        "raw_input_contents");
    byte[] data = HttpServerTest.binaryValues(t, 2);
    ModelInferResponse r =
        stub.modelInfer(
            rawRequest(TestModels.echo(t), t, data, 1, 2).toBuilder()
                .putParameters("raw_output", bool(false))
                .build());
    assertThat(r.getRawOutputContents(0).toByteArray()).isEqualTo(data);
  }

  @Test
  void simpleModelWithOutputSubsetAndParameters() {
    InferTensorContents.Builder a = InferTensorContents.newBuilder();
    InferTensorContents.Builder b = InferTensorContents.newBuilder();
    for (int i = 0; i < 16; i++) {
      a.addIntContents(i);
      b.addIntContents(1);
    }
    ModelInferResponse r =
        stub.modelInfer(
            ModelInferRequest.newBuilder()
                .setModelName("simple")
                .setId("42")
                .putParameters("priority", InferParameter.newBuilder().setInt64Param(1).build())
                .addInputs(input("INPUT0", DataType.INT32, 1, 16).setContents(a))
                .addInputs(input("INPUT1", DataType.INT32, 1, 16).setContents(b))
                .addOutputs(
                    ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("OUTPUT1"))
                .build());
    assertThat(r.getId()).isEqualTo("42");
    assertThat(r.getOutputsList()).extracting(o -> o.getName()).containsExactly("OUTPUT1");
    assertThat(r.getOutputs(0).getContents().getIntContentsList())
        .containsExactly(-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
  }

  @Test
  void explicitVersion() {
    byte[] data = HttpServerTest.binaryValues(DataType.FP32, 1);
    ModelInferRequest.Builder b = rawRequest("versioned", DataType.FP32, data, 1, 1).toBuilder();
    assertThat(stub.modelInfer(b.build()).getModelVersion()).isEqualTo("2");
    assertThat(stub.modelInfer(b.setModelVersion("1").build()).getModelVersion()).isEqualTo("1");
    assertStatus(
        () -> stub.modelInfer(b.setModelVersion("7").build()), Status.Code.NOT_FOUND, "'7'");
  }

  // ---- inference: errors ---------------------------------------------------------------------

  @Test
  void clientMistakesAreInvalidArgumentNamingTensorAndField() {
    byte[] four = HttpServerTest.binaryValues(DataType.FP32, 4);
    String echo = TestModels.echo(DataType.FP32);
    // raw and typed mixed
    assertStatus(
        () ->
            stub.modelInfer(
                typedRequest(echo, DataType.FP32, four, 1, 4).toBuilder()
                    .addRawInputContents(ByteString.copyFrom(four))
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "'IN'",
        "raw_input_contents");
    // raw entries != inputs
    assertStatus(
        () ->
            stub.modelInfer(
                rawRequest(echo, DataType.FP32, four, 1, 4).toBuilder()
                    .addRawInputContents(ByteString.copyFrom(four))
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "raw_input_contents has 2 entries",
        "1 inputs");
    // raw size wrong
    assertStatus(
        () -> stub.modelInfer(rawRequest(echo, DataType.FP32, four, 1, 3)),
        Status.Code.INVALID_ARGUMENT,
        "raw_input_contents[0]",
        "'IN'");
    // typed values in the wrong field
    assertStatus(
        () ->
            stub.modelInfer(
                typedRequest(TestModels.echo(DataType.INT32), DataType.FP32, four, 1, 4).toBuilder()
                    .setInputs(
                        0,
                        input("IN", DataType.INT32, 1, 4).setContents(typed(DataType.FP32, four)))
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "'IN'",
        "contents.int_contents",
        "contents.fp32_contents");
    // typed count wrong
    assertStatus(
        () -> stub.modelInfer(typedRequest(echo, DataType.FP32, four, 1, 5)),
        Status.Code.INVALID_ARGUMENT,
        "'IN'",
        "needs 5 values in contents.fp32_contents but has 4");
    // out of range for INT8
    assertStatus(
        () ->
            stub.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(TestModels.echo(DataType.INT8))
                    .addInputs(
                        input("IN", DataType.INT8, 1, 1)
                            .setContents(InferTensorContents.newBuilder().addIntContents(300)))
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "'IN'",
        "contents.int_contents[0] = 300",
        "INT8");
    // unknown datatype
    assertStatus(
        () ->
            stub.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(echo)
                    .addInputs(
                        ModelInferRequest.InferInputTensor.newBuilder()
                            .setName("IN")
                            .setDatatype("FLOAT")
                            .addShape(1))
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "'IN'",
        "'FLOAT'");
    // shape the model does not accept
    assertStatus(
        () ->
            stub.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName("simple")
                    .addInputs(
                        input("INPUT0", DataType.INT32, 1, 2)
                            .setContents(
                                InferTensorContents.newBuilder()
                                    .addIntContents(1)
                                    .addIntContents(2)))
                    .addInputs(
                        input("INPUT1", DataType.INT32, 1, 2)
                            .setContents(
                                InferTensorContents.newBuilder()
                                    .addIntContents(1)
                                    .addIntContents(2)))
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "'INPUT0'",
        "shape");
    // wrong datatype for the model, unknown output, missing model name
    assertStatus(
        () -> stub.modelInfer(rawRequest(echo, DataType.INT32, four, 1, 4)),
        Status.Code.INVALID_ARGUMENT,
        "'IN'",
        "FP32");
    assertStatus(
        () ->
            stub.modelInfer(
                rawRequest(echo, DataType.FP32, four, 1, 4).toBuilder()
                    .addOutputs(
                        ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("NOPE"))
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "'NOPE'");
    assertStatus(
        () -> stub.modelInfer(ModelInferRequest.getDefaultInstance()),
        Status.Code.INVALID_ARGUMENT,
        "model_name");
    assertStatus(
        () ->
            stub.modelInfer(
                rawRequest(echo, DataType.FP32, four, 1, 4).toBuilder()
                    .putParameters("raw_output", InferParameter.getDefaultInstance())
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "raw_output");
  }

  @Test
  void unknownModelIsNotFoundAndAnUnloadableOneUnavailable() {
    byte[] one = HttpServerTest.binaryValues(DataType.FP32, 1);
    assertStatus(
        () -> stub.modelInfer(rawRequest("nope", DataType.FP32, one, 1, 1)),
        Status.Code.NOT_FOUND,
        "'nope'");
    assertStatus(
        () -> stub.modelInfer(rawRequest("broken", DataType.FP32, one, 1, 1)),
        Status.Code.UNAVAILABLE,
        "'broken'");
    // No model name: refused before anything runs (no path runs a request without its version).
    assertStatus(
        () -> stub.modelInfer(rawRequest("", DataType.FP32, one, 1, 1)),
        Status.Code.INVALID_ARGUMENT,
        "model_name is required");
  }

  @Test
  void engineFaultIsInternal() {
    byte[] one = HttpServerTest.binaryValues(DataType.FP32, 1);
    assertStatus(
        () -> stub.modelInfer(rawRequest("exploding", DataType.FP32, one, 1, 1)),
        Status.Code.INTERNAL);
  }

  @Test
  void oversizedMessageIsResourceExhaustedAndTheServerKeepsServing() {
    byte[] big = new byte[MAX_MESSAGE + 1024];
    assertStatus(
        () ->
            stub.modelInfer(
                rawRequest(TestModels.echo(DataType.UINT8), DataType.UINT8, big, 1, big.length)),
        Status.Code.RESOURCE_EXHAUSTED);
    assertThat(stub.serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
  }

  @Test
  void expiredDeadlineIsDeadlineExceeded() {
    FakeRuntime.closeGate();
    try {
      byte[] one = HttpServerTest.binaryValues(DataType.FP32, 1);
      assertStatus(
          () ->
              GRPCInferenceServiceGrpc.newBlockingStub(channel)
                  .withDeadlineAfter(200, TimeUnit.MILLISECONDS)
                  .modelInfer(rawRequest("gated", DataType.FP32, one, 1, 1)),
          Status.Code.DEADLINE_EXCEEDED);
    } finally {
      FakeRuntime.openGate();
    }
    // the model still answers once the engine is free
    byte[] one = HttpServerTest.binaryValues(DataType.FP32, 1);
    assertThat(stub.modelInfer(rawRequest("gated", DataType.FP32, one, 1, 1)).getOutputsCount())
        .isEqualTo(1);
  }

  @Test
  void aCancelledCallLeavesTheQueueAndNeverRuns() throws Exception {
    ModelVersion gated = service.repository().resolve("gated", "");
    ModelStatistics.Snapshot before = gated.statistics().snapshot();
    byte[] one = HttpServerTest.binaryValues(DataType.FP32, 1);
    GRPCInferenceServiceGrpc.GRPCInferenceServiceFutureStub async =
        GRPCInferenceServiceGrpc.newFutureStub(channel);
    FakeRuntime.closeGate();
    try {
      var running = async.modelInfer(rawRequest("gated", DataType.FP32, one, 1, 1));
      Await.until(
          "the first call runs",
          () -> gated.scheduler().pending() == 1 && gated.scheduler().queued() == 0);
      var queued = async.modelInfer(rawRequest("gated", DataType.FP32, one, 1, 1));
      Await.until("the second call is queued", () -> gated.scheduler().queued() == 1);
      assertThat(queued.cancel(true)).isTrue();
      Await.until(
          "the cancelled call leaves the queue",
          () -> gated.statistics().snapshot().cancelled() == before.cancelled() + 1);
      assertThat(gated.scheduler().queued()).isZero();
      // A failure in the statistics too, as Prometheus's reason="CANCELED" counts it.
      assertThat(gated.statistics().snapshot().fail().count()).isEqualTo(before.fail().count() + 1);
      FakeRuntime.openGate();
      assertThat(running.get(30, TimeUnit.SECONDS).getOutputsCount()).isEqualTo(1);
    } finally {
      FakeRuntime.openGate();
    }
    assertThat(gated.statistics().snapshot().executionCount())
        .as("only the call that was not cancelled ran")
        .isEqualTo(before.executionCount() + 1);
  }

  @Test
  void aFullQueueIsResourceExhaustedBeforeTheMessageIsDecoded() throws Exception {
    ModelVersion m = service.repository().resolve("gated_queue1", "");
    long rejectedBefore = m.statistics().snapshot().rejected();
    byte[] one = HttpServerTest.binaryValues(DataType.FP32, 1);
    GRPCInferenceServiceGrpc.GRPCInferenceServiceFutureStub async =
        GRPCInferenceServiceGrpc.newFutureStub(channel);
    FakeRuntime.closeGate();
    try {
      var running = async.modelInfer(rawRequest("gated_queue1", DataType.FP32, one, 1, 1));
      Await.until(
          "the first call runs", () -> m.scheduler().pending() == 1 && m.scheduler().queued() == 0);
      var queued = async.modelInfer(rawRequest("gated_queue1", DataType.FP32, one, 1, 1));
      Await.until("the second call is queued", () -> m.scheduler().queued() == 1);
      assertStatus(
          () -> stub.modelInfer(rawRequest("gated_queue1", DataType.FP32, one, 1, 1)),
          Status.Code.RESOURCE_EXHAUSTED,
          "queue is full",
          "max-queue-size 1");
      // The queue is checked before the tensors are read: even a malformed message is refused.
      assertStatus(
          () -> stub.modelInfer(rawRequest("gated_queue1", DataType.FP32, one, 1, 3)),
          Status.Code.RESOURCE_EXHAUSTED);
      assertThat(m.statistics().snapshot().rejected()).isEqualTo(rejectedBefore + 2);
      FakeRuntime.openGate();
      assertThat(running.get(30, TimeUnit.SECONDS).getOutputsCount()).isEqualTo(1);
      assertThat(queued.get(30, TimeUnit.SECONDS).getOutputsCount()).isEqualTo(1);
    } finally {
      FakeRuntime.openGate();
    }
  }

  @Test
  void drainingIsUnavailableAndHealthNotServing() throws Exception {
    InferenceService draining = TestModels.service(repo.resolve("drain"));
    try (GrpcServer s = new GrpcServer(draining, GrpcServerConfig.ephemeral()).start()) {
      ManagedChannel ch = channel(s.port());
      try {
        var st =
            GRPCInferenceServiceGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS);
        draining.beginDrain();
        assertThat(st.serverReady(ServerReadyRequest.getDefaultInstance()).getReady()).isFalse();
        assertThat(
                HealthGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .check(HealthCheckRequest.getDefaultInstance())
                    .getStatus())
            .isEqualTo(ServingStatus.NOT_SERVING);
        byte[] one = HttpServerTest.binaryValues(DataType.FP32, 1);
        assertStatus(
            () ->
                st.modelInfer(rawRequest(TestModels.echo(DataType.FP32), DataType.FP32, one, 1, 1)),
            Status.Code.UNAVAILABLE,
            "shutting down");
      } finally {
        ch.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    } finally {
      draining.repository().close();
    }
  }

  // ---- streaming -----------------------------------------------------------------------------

  /** The bytes of a message as they are, so that a test can send ones that do not parse. */
  private static MethodDescriptor<byte[], byte[]> rawMethod(
      String name, MethodDescriptor.MethodType type) {
    MethodDescriptor.Marshaller<byte[]> bytes =
        new MethodDescriptor.Marshaller<>() {
          @Override
          public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
          }

          @Override
          public byte[] parse(InputStream stream) {
            try {
              return stream.readAllBytes();
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          }
        };
    return MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(type)
        .setFullMethodName(
            MethodDescriptor.generateFullMethodName(GRPCInferenceServiceGrpc.SERVICE_NAME, name))
        .setRequestMarshaller(bytes)
        .setResponseMarshaller(bytes)
        .build();
  }

  /** Seven bytes that claim a 127-byte field 1 and end after five. */
  private static final byte[] MALFORMED = {0x0a, 0x7f, 1, 2, 3, 4, 5};

  @Test
  void malformedProtobufIsInvalidArgumentAndTheServerKeepsServing() {
    StatusRuntimeException e =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () ->
                ClientCalls.blockingUnaryCall(
                    channel,
                    rawMethod("ModelInfer", MethodDescriptor.MethodType.UNARY),
                    CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS),
                    MALFORMED));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription()).contains("ModelInfer", "protocol buffer");
    assertThat(stub.serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
  }

  @Test
  void aMalformedStreamMessageFailsThatMessageOnlyAndTheStreamGoesOn() throws Exception {
    CompletableFuture<Throwable> ended = new CompletableFuture<>();
    List<byte[]> answers = new CopyOnWriteArrayList<>();
    StreamObserver<byte[]> requests =
        ClientCalls.asyncBidiStreamingCall(
            channel.newCall(
                rawMethod("ModelStreamInfer", MethodDescriptor.MethodType.BIDI_STREAMING),
                CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS)),
            new StreamObserver<>() {
              @Override
              public void onNext(byte[] value) {
                answers.add(value);
              }

              @Override
              public void onError(Throwable t) {
                ended.complete(t);
              }

              @Override
              public void onCompleted() {
                ended.complete(null);
              }
            });
    byte[] data = HttpServerTest.binaryValues(DataType.FP32, 2);
    ModelInferRequest ok = rawRequest(TestModels.echo(DataType.FP32), DataType.FP32, data, 1, 2);
    requests.onNext(ok.toBuilder().setId("first").build().toByteArray());
    requests.onNext(MALFORMED);
    requests.onNext(ok.toBuilder().setId("second").build().toByteArray());
    requests.onCompleted();
    assertThat(ended.get(30, TimeUnit.SECONDS)).as("the stream ends normally").isNull();
    Map<String, ModelStreamInferResponse> byId = new HashMap<>();
    for (byte[] a : answers) {
      ModelStreamInferResponse r = ModelStreamInferResponse.parseFrom(a);
      byId.put(r.getInferResponse().getId(), r);
    }
    assertThat(byId).containsOnlyKeys("first", "", "second");
    assertThat(byId.get("first").getErrorMessage()).isEmpty();
    assertThat(byId.get("second").getErrorMessage()).isEmpty();
    assertThat(byId.get("").getErrorMessage()).contains("ModelStreamInfer", "protocol buffer");
  }

  @Test
  void aNegativeTimeoutIsInvalidArgumentAsOnRest() {
    byte[] data = HttpServerTest.binaryValues(DataType.FP32, 2);
    ModelInferRequest r =
        rawRequest(TestModels.echo(DataType.FP32), DataType.FP32, data, 1, 2).toBuilder()
            .putParameters("timeout", InferParameter.newBuilder().setInt64Param(-1).build())
            .build();
    StatusRuntimeException e =
        catchThrowableOfType(StatusRuntimeException.class, () -> stub.modelInfer(r));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription()).contains("timeout", "-1");
  }

  @Test
  void nonFiniteTypedContentsAreInvalidArgument() {
    for (float v : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
      ModelInferRequest r =
          ModelInferRequest.newBuilder()
              .setModelName(TestModels.echo(DataType.FP32))
              .addInputs(
                  input("IN", DataType.FP32, 1, 2)
                      .setContents(
                          InferTensorContents.newBuilder().addFp32Contents(1).addFp32Contents(v)))
              .build();
      StatusRuntimeException e =
          catchThrowableOfType(StatusRuntimeException.class, () -> stub.modelInfer(r));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(e.getStatus().getDescription())
          .contains(TestModels.echo(DataType.FP32), "'IN'", "element 1");
    }
  }

  @Test
  void streamAnswersInterleavedModelsByIdWithPerMessageErrors() throws Exception {
    Map<String, ModelStreamInferResponse> byId = new ConcurrentHashMap<>();
    CountDownLatch done = new CountDownLatch(1);
    List<Throwable> errors = new ArrayList<>();
    StreamObserver<ModelInferRequest> requests =
        GRPCInferenceServiceGrpc.newStub(channel)
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .modelStreamInfer(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ModelStreamInferResponse r) {
                    byId.put(r.getInferResponse().getId(), r);
                  }

                  @Override
                  public void onError(Throwable t) {
                    errors.add(t);
                    done.countDown();
                  }

                  @Override
                  public void onCompleted() {
                    done.countDown();
                  }
                });
    List<DataType> types = List.of(DataType.INT32, DataType.FP32, DataType.BYTES, DataType.FP16);
    for (int i = 0; i < 12; i++) {
      DataType t = types.get(i % types.size());
      byte[] data = HttpServerTest.binaryValues(t, i + 1);
      requests.onNext(
          rawRequest(TestModels.echo(t), t, data, 1, i + 1).toBuilder().setId("ok-" + i).build());
      if (i % 4 == 1) {
        requests.onNext(
            rawRequest("nope", t, data, 1, i + 1).toBuilder().setId("missing-" + i).build());
      }
      if (i == 3) {
        requests.onNext(rawRequest("", t, data, 1, i + 1).toBuilder().setId("nameless").build());
      }
      if (i % 4 == 2) {
        requests.onNext(
            rawRequest(TestModels.echo(t), t, data, 1, i + 2).toBuilder()
                .setId("bad-" + i)
                .build());
      }
    }
    requests.onCompleted();
    assertThat(done.await(30, TimeUnit.SECONDS)).isTrue();
    assertThat(errors).isEmpty();
    assertThat(byId).hasSize(12 + 3 + 3 + 1);
    for (int i = 0; i < 12; i++) {
      DataType t = types.get(i % types.size());
      ModelStreamInferResponse r = byId.get("ok-" + i);
      assertThat(r.getErrorMessage()).isEmpty();
      assertThat(r.getInferResponse().getModelName()).isEqualTo(TestModels.echo(t));
      assertThat(r.getInferResponse().getRawOutputContents(0).toByteArray())
          .isEqualTo(HttpServerTest.binaryValues(t, i + 1));
    }
    assertThat(byId.get("missing-1").getErrorMessage()).contains("'nope'");
    assertThat(byId.get("missing-1").getInferResponse().getModelName()).isEqualTo("nope");
    assertThat(byId.get("bad-2").getErrorMessage()).contains("raw_input_contents[0]", "'IN'");
    assertThat(byId.get("nameless").getErrorMessage()).isEqualTo("model_name is required");
  }
}
