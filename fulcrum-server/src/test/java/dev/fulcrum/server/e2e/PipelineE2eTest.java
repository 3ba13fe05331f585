package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.SENTENCES;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.quote;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import dev.fulcrum.pipelines.offline.Pipeline;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.InferTensorContents;
import dev.fulcrum.server.grpc.proto.ModelInferRequest;
import dev.fulcrum.server.grpc.proto.ModelInferResponse;
import dev.fulcrum.server.grpc.proto.ModelStatisticsRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The demo's text pipeline {@code minilm_text} served over REST and gRPC: a sentence in, a vector
 * out; the same vectors as the offline API; statistics that show the steps apart.
 */
class PipelineE2eTest {

  @AutoClose private static E2eServer server; // and the gRPC port it started
  private static E2eServer.GrpcPort grpc;

  @BeforeAll
  static void start() throws Exception {
    server = E2eServer.startMiniLm();
    grpc = server.startGrpc();
  }

  private static float[] restEmbedding(String sentence) throws Exception {
    HttpResponse<byte[]> r =
        server.post(
            inferPath("minilm_text"),
            "{\"inputs\":[{\"name\":\"text\",\"shape\":[1,1],\"datatype\":\"BYTES\",\"data\":["
                + quote(sentence)
                + "]}]}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode embedding = output(r, "embedding");
    assertThat(embedding.get("datatype").asText()).isEqualTo("FP32");
    assertThat(embedding.get("shape").toString()).isEqualTo("[1,384]");
    float[] v = new float[384];
    for (int i = 0; i < 384; i++) {
      v[i] = (float) embedding.get("data").get(i).asDouble();
    }
    return v;
  }

  @Test
  void aSentenceInAUnitVectorOut() throws Exception {
    float[] v = restEmbedding("hello world");
    double norm = 0;
    for (float x : v) {
      norm += x * x;
    }
    assertThat(Math.sqrt(norm)).isCloseTo(1.0, within(1e-5));

    JsonNode meta = E2eServer.JSON.readTree(server.get("/v2/models/minilm_text").body());
    assertThat(meta.get("platform").asText()).isEqualTo("fulcrum_pipeline");
    assertThat(meta.get("inputs").get(0).toString())
        .isEqualTo("{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[-1,1]}");
    assertThat(meta.get("outputs").get(0).toString())
        .isEqualTo("{\"name\":\"embedding\",\"datatype\":\"FP32\",\"shape\":[-1,384]}");
    // The wrapped model stays reachable directly, taking token ids.
    assertThat(server.get("/v2/models/all_minilm_l6_v2/ready").statusCode()).isEqualTo(200);

    JsonNode stats =
        E2eServer.JSON
            .readTree(server.get("/v2/models/minilm_text/stats").body())
            .get("model_stats")
            .get(0);
    assertThat(stats.get("fulcrum").get("preprocess").get("count").asLong()).isPositive();
    assertThat(stats.get("fulcrum").get("postprocess").get("count").asLong()).isPositive();
    assertThat(stats.get("inference_stats").get("compute_infer").get("count").asLong())
        .isPositive();
  }

  @Test
  void servedVectorsEqualTheOfflineApi() throws Exception {
    List<float[]> offline;
    try (Pipeline p = Pipeline.open(E2eServer.DEMO_MODELS, "minilm_text")) {
      offline = p.embed(SENTENCES);
    }
    for (int i = 0; i < SENTENCES.size(); i++) {
      assertThat(restEmbedding(SENTENCES.get(i)))
          .as(SENTENCES.get(i))
          .containsExactly(offline.get(i));
    }
    // Several sentences in one request: each row its own vector, the same as alone.
    StringBuilder data = new StringBuilder();
    for (String s : SENTENCES) {
      data.append(data.length() == 0 ? "" : ",").append(quote(s));
    }
    HttpResponse<byte[]> r =
        server.post(
            inferPath("minilm_text"),
            "{\"inputs\":[{\"name\":\"text\",\"shape\":["
                + SENTENCES.size()
                + ",1],\"datatype\":\"BYTES\",\"data\":["
                + data
                + "]}]}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    JsonNode values = output(r, "embedding").get("data");
    for (int i = 0; i < SENTENCES.size(); i++) {
      for (int d = 0; d < 384; d++) {
        assertThat((float) values.get(i * 384 + d).asDouble()).isEqualTo(offline.get(i)[d]);
      }
    }
  }

  @Test
  void overGrpc() throws Exception {
    byte[] sentence = "hello world".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    ModelInferRequest request =
        ModelInferRequest.newBuilder()
            .setModelName("minilm_text")
            .addInputs(
                ModelInferRequest.InferInputTensor.newBuilder()
                    .setName("text")
                    .setDatatype("BYTES")
                    .addShape(1)
                    .addShape(1)
                    .setContents(
                        InferTensorContents.newBuilder()
                            .addBytesContents(ByteString.copyFrom(sentence))))
            .build();
    ModelInferResponse response =
        GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .modelInfer(request);
    assertThat(response.getOutputs(0).getName()).isEqualTo("embedding");
    assertThat(response.getOutputs(0).getShapeList()).containsExactly(1L, 384L);
    float[] v = new float[384];
    if (response.getRawOutputContentsCount() > 0) {
      ByteBuffer raw = response.getRawOutputContents(0).asReadOnlyByteBuffer();
      raw.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
    } else {
      List<Float> typed = response.getOutputs(0).getContents().getFp32ContentsList();
      for (int i = 0; i < 384; i++) {
        v[i] = typed.get(i);
      }
    }
    assertThat(v).containsExactly(restEmbedding("hello world"));
    assertThat(
            GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
                .modelStatistics(ModelStatisticsRequest.newBuilder().setName("minilm_text").build())
                .getModelStats(0)
                .getInferenceStats()
                .getSuccess()
                .getCount())
        .isPositive();
    assertThat(Files.isDirectory(E2eServer.DEMO_MODELS.resolve("minilm_text"))).isTrue();
  }

  /**
   * A text element that is not UTF-8 is refused naming its row and byte, over REST (binary data)
   * and gRPC alike: the server replaced the bad bytes with U+FFFD and answered 200 where {@code
   * fulcrum embed} refused the same text.
   */
  @Test
  void textThatIsNotUtf8IsRefusedNamingItsRowAndByte() throws Exception {
    byte[] ok = "ok".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    byte[] bad = {'c', 'a', 'f', (byte) 0xE9, ' ', 'x'};
    String expected =
        "model 'minilm_text': input 'text': row 1 is not valid UTF-8 at byte offset 3 (0xE9)";
    ByteBuffer data =
        ByteBuffer.allocate(8 + ok.length + bad.length).order(ByteOrder.LITTLE_ENDIAN);
    data.putInt(ok.length).put(ok).putInt(bad.length).put(bad);
    HttpResponse<byte[]> r =
        server.post(
            inferPath("minilm_text"),
            "{\"inputs\":[{\"name\":\"text\",\"shape\":[2,1],\"datatype\":\"BYTES\","
                + "\"parameters\":{\"binary_data_size\":"
                + data.capacity()
                + "}}]}",
            data.array());
    assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
    assertThat(E2eServer.error(r)).isEqualTo(expected);

    ModelInferRequest request =
        ModelInferRequest.newBuilder()
            .setModelName("minilm_text")
            .addInputs(
                ModelInferRequest.InferInputTensor.newBuilder()
                    .setName("text")
                    .setDatatype("BYTES")
                    .addShape(2)
                    .addShape(1)
                    .setContents(
                        InferTensorContents.newBuilder()
                            .addBytesContents(ByteString.copyFrom(ok))
                            .addBytesContents(ByteString.copyFrom(bad))))
            .build();
    assertThatThrownBy(
            () ->
                GRPCInferenceServiceGrpc.newBlockingStub(grpc.channel)
                    .withDeadlineAfter(60, TimeUnit.SECONDS)
                    .modelInfer(request))
        .isInstanceOfSatisfying(
            io.grpc.StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription()).isEqualTo(expected);
            });
  }
}
