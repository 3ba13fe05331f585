package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.JSON;
import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.testkit.TestModels;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Model folders configured only by Triton's config.pbtxt load unchanged: served over REST, their
 * settings visible in {@code /v2/models/<m>/config}; a malformed one leaves its model UNAVAILABLE
 * with a reason naming the file, line and column; config.yaml wins over config.pbtxt.
 */
class PbtxtE2eTest {
  @TempDir static Path repo;
  private static E2eServer server;

  private static final String ADD_SUB = TestModels.ADD_SUB_INT32;
  private static final String FP32 = "identity_fp32";
  private static final String INT64 = "identity_int64";
  private static final String BROKEN = "identity_int32";
  private static final String RESHAPED = "add_sub_reshaped";

  @BeforeAll
  static void start() throws Exception {
    for (String m : new String[] {ADD_SUB, FP32, INT64, BROKEN}) {
      TestModels.writeModel(repo, m);
    }
    // The add/sub test model configured in Triton's format, with the settings /config echoes.
    Files.writeString(
        repo.resolve(ADD_SUB).resolve("config.pbtxt"),
        """
        name: "add_sub_int32"
        platform: "onnxruntime_onnx"
        max_batch_size: 8
        version_policy: { latest: { num_versions: 1 } }
        input [
          { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] },
          { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
        ]
        output [
          { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] },
          { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
        ]
        instance_group [ { count: 2 kind: KIND_CPU } ]
        dynamic_batching {
          preferred_batch_size: [ 4 ]
          max_queue_delay_microseconds: 100
          default_queue_policy { max_queue_size: 7 }
        }
        optimization { graph { level: 1 } cuda { graphs: true } }
        parameters { key: "intra_op_thread_count" value: { string_value: "1" } }
        """);
    // No inputs or outputs: completed from the model, as Triton's ONNX backend auto-completes.
    Files.writeString(
        repo.resolve(FP32).resolve("config.pbtxt"),
        "backend: \"onnxruntime\"\nmax_batch_size: 0\n");
    Files.writeString(repo.resolve(INT64).resolve("config.pbtxt"), "max_batch_size: 2\n");
    Files.writeString(repo.resolve(INT64).resolve("config.yaml"), "max-batch-size: 4\n");
    Files.writeString(
        repo.resolve(BROKEN).resolve("config.pbtxt"),
        "max_batch_size: 4\ninput [ { nme: \"x\" } ]\n");
    // Triton's reshape: clients send and get [4, 4] per row; the graph takes and gives [16].
    Files.createDirectories(repo.resolve(RESHAPED).resolve("1"));
    Files.write(
        repo.resolve(RESHAPED).resolve("1").resolve("model.onnx"), TestModels.model(ADD_SUB));
    Files.writeString(
        repo.resolve(RESHAPED).resolve("config.pbtxt"),
        """
        max_batch_size: 8
        input [
          { name: "INPUT0" data_type: TYPE_INT32 dims: [ 4, 4 ] reshape { shape: [ 16 ] } },
          { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
        ]
        output [
          { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 4, 4 ] reshape { shape: [ 16 ] } },
          { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
        ]
        dynamic_batching { }
        """);
    server = E2eServer.start(repo);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  private static JsonNode config(String model) throws Exception {
    HttpResponse<byte[]> r = server.get("/v2/models/" + model + "/config");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  @Test
  void modelConfiguredByPbtxtAnswersInference() throws Exception {
    HttpResponse<byte[]> r =
        server.post(
            inferPath(ADD_SUB),
            """
            {"inputs":[
              {"name":"INPUT0","shape":[1,16],"datatype":"INT32",
               "data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]},
              {"name":"INPUT1","shape":[1,16],"datatype":"INT32",
               "data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}""");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(output(r, "OUTPUT0").get("data").toString())
        .isEqualTo("[2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]");
    assertThat(output(r, "OUTPUT1").get("data").get(15).asInt()).isEqualTo(15);
  }

  @Test
  void configShowsThePbtxtSettings() throws Exception {
    JsonNode c = config(ADD_SUB);
    assertThat(c.get("max_batch_size").asInt()).isEqualTo(8);
    assertThat(c.at("/input/0/dims").toString()).isEqualTo("[16]");
    assertThat(c.at("/input/0/data_type").asText()).isEqualTo("TYPE_INT32");
    assertThat(c.at("/instance_group/0/count").asInt()).isEqualTo(2);
    assertThat(c.at("/instance_group/0/kind").asText()).isEqualTo("KIND_CPU");
    assertThat(c.at("/dynamic_batching/preferred_batch_size").toString()).isEqualTo("[4]");
    assertThat(c.at("/dynamic_batching/max_queue_delay_microseconds").asLong()).isEqualTo(100);
    assertThat(c.at("/dynamic_batching/default_queue_policy/max_queue_size").asInt()).isEqualTo(7);
    assertThat(c.at("/optimization/graph/level").asInt()).isEqualTo(1);
    assertThat(c.at("/parameters/intra_op_thread_count/string_value").asText()).isEqualTo("1");
    assertThat(c.at("/version_policy/latest/num_versions").asInt()).isEqualTo(1);
  }

  @Test
  void pbtxtWithoutInputsAndOutputsIsCompletedFromTheModel() throws Exception {
    JsonNode c = config(FP32);
    assertThat(c.get("max_batch_size").asInt()).isEqualTo(32);
    assertThat(c.at("/input/0/name").asText()).isEqualTo("INPUT0");
    HttpResponse<byte[]> r =
        server.post(
            inferPath(FP32),
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2]}]}");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
  }

  @Test
  void reshapeServesTheConfiguredShapeOverTheGraphs() throws Exception {
    HttpResponse<byte[]> r =
        server.post(
            inferPath(RESHAPED),
            """
            {"inputs":[
              {"name":"INPUT0","shape":[2,4,4],"datatype":"INT32",
               "data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,
                       0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,7]},
              {"name":"INPUT1","shape":[2,16],"datatype":"INT32",
               "data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
                       1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}""");
    assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
    assertThat(output(r, "OUTPUT0").get("shape").toString()).isEqualTo("[2,4,4]");
    assertThat(output(r, "OUTPUT0").get("data").get(15).asInt()).isEqualTo(17);
    assertThat(output(r, "OUTPUT0").get("data").get(31).asInt()).isEqualTo(8);
    assertThat(output(r, "OUTPUT1").get("shape").toString()).isEqualTo("[2,16]");
    // The graph's shape is not the clients': refused as any wrong shape is.
    HttpResponse<byte[]> wrong =
        server.post(
            inferPath(RESHAPED),
            """
            {"inputs":[
              {"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]},
              {"name":"INPUT1","shape":[1,16],"datatype":"INT32","data":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}]}""");
    assertThat(wrong.statusCode()).as(text(wrong)).isEqualTo(400);
    JsonNode c = config(RESHAPED);
    assertThat(c.at("/input/0/dims").toString()).isEqualTo("[4,4]");
    assertThat(c.at("/input/0/reshape/shape").toString()).isEqualTo("[16]");
    assertThat(c.at("/output/0/reshape/shape").toString()).isEqualTo("[16]");
    assertThat(c.at("/input/1/reshape").isMissingNode()).isTrue();
  }

  @Test
  void configYamlWinsOverConfigPbtxt() throws Exception {
    assertThat(config(INT64).get("max_batch_size").asInt()).isEqualTo(4);
  }

  @Test
  void malformedPbtxtLeavesTheModelUnavailableWithFileLineAndColumn() throws Exception {
    assertThat(server.get("/v2/models/" + BROKEN + "/ready").statusCode()).isEqualTo(503);
    HttpResponse<byte[]> r =
        server.post(
            inferPath(BROKEN),
            "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,1],\"datatype\":\"INT32\",\"data\":[1]}]}");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(error(r))
        .contains(BROKEN + "/config.pbtxt")
        .contains("line 2, column")
        .contains("nme")
        .doesNotContain(repo.toString());
    assertThat(server.get("/v2/models/" + ADD_SUB + "/ready").statusCode()).isEqualTo(200);
  }
}
