package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.server.metrics.ServerMetrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Golden test of the metric names and the statistics endpoint, after real requests. */
class MetricsEndpointTest {
  @TempDir static Path repo;
  @AutoClose private static TestModels.Metered server;
  private static final HttpClient client = HttpClient.newHttpClient();
  private static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void start() throws Exception {
    TestModels.write(repo);
    // One model with the response cache, beside the others that have none.
    Files.createDirectories(repo.resolve("cached/1"));
    Files.writeString(
        repo.resolve("cached/config.yaml"),
        "response-cache:\n  enabled: true\n  max-bytes: 65536\n");
    Files.writeString(
        repo.resolve("cached/1/model.onnx"),
        "{\"mode\":\"identity\",\"inputs\":[{\"name\":\"IN\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}],"
            + "\"outputs\":[{\"name\":\"OUT\",\"datatype\":\"FP32\",\"shape\":[-1,-1]}]}");
    server =
        TestModels.serveWithMetrics(repo, new ServerMetrics(true), new ModelConfigResolver(2, 8));
  }

  private static HttpResponse<String> get(String url) throws Exception {
    return client.send(
        HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static void infer(int times) throws Exception {
    String body =
        """
        {"inputs":[{"name":"IN","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]}""";
    for (int i = 0; i < times; i++) {
      HttpResponse<String> r =
          client.send(
              HttpRequest.newBuilder(URI.create(server.base() + "/v2/models/echo_fp32/infer"))
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
    }
  }

  /**
   * A client that opens with HTTP/2's preface (prior knowledge) is told in HTTP/2 that the port
   * speaks HTTP/1.1: SETTINGS, then GOAWAY with HTTP_1_1_REQUIRED and a readable reason. It had
   * been closed without a word ({@code curl --http2-prior-knowledge}: "Empty reply from server").
   */
  @Test
  void anHttp2PriorKnowledgeClientIsToldTheMetricsPortSpeaksHttp11() throws Exception {
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", server.metrics.port())) {
      s.setSoTimeout(10_000);
      java.io.DataOutputStream out = new java.io.DataOutputStream(s.getOutputStream());
      java.io.DataInputStream in = new java.io.DataInputStream(s.getInputStream());
      out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // SETTINGS, empty
      out.flush();
      List<Integer> types = new java.util.ArrayList<>();
      int error = -1;
      String debug = "";
      while (error < 0) {
        int length = in.readUnsignedShort() << 8 | in.readUnsignedByte();
        int type = in.readUnsignedByte();
        in.readUnsignedByte(); // flags
        in.readInt(); // stream
        byte[] payload = in.readNBytes(length);
        types.add(type);
        if (type == 7) {
          java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(payload);
          b.getInt(); // last stream
          error = b.getInt();
          debug = new String(payload, 8, length - 8, StandardCharsets.US_ASCII);
        }
      }
      assertThat(types).containsExactly(4, 7); // SETTINGS, GOAWAY
      assertThat(error).isEqualTo(0xd); // HTTP_1_1_REQUIRED
      assertThat(debug).contains("HTTP/1.1 only", "/metrics");
      assertThat(in.read()).isEqualTo(-1); // then the end of the stream, not a reset
    }
    // HTTP/1.1 as before, on a new connection.
    assertThat(get(server.metricsBase() + "/metrics").statusCode()).isEqualTo(200);
  }

  @Test
  void metricFamiliesKeepTheirNames() throws Exception {
    infer(3);
    HttpResponse<String> r = get(server.metricsBase() + "/metrics");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
    Set<String> families =
        Arrays.stream(r.body().split("\n"))
            .filter(l -> l.startsWith("# TYPE "))
            .map(l -> l.substring(7, l.indexOf(' ', 7)))
            .filter(n -> n.startsWith("nv_") || n.startsWith("fulcrum_"))
            .collect(Collectors.toCollection(TreeSet::new));
    // Golden list: renaming a family breaks dashboards; change it only on purpose.
    assertThat(families)
        .containsExactly(
            "fulcrum_batch_size",
            "fulcrum_compute_duration_seconds",
            "fulcrum_cost_per_million_predictions_usd",
            "fulcrum_model_utilization_ratio",
            "fulcrum_pipeline_postprocess_duration_us",
            "fulcrum_pipeline_preprocess_duration_us",
            "fulcrum_queue_duration_seconds",
            "fulcrum_rejected_requests_total",
            "fulcrum_request_duration_seconds",
            "fulcrum_sequence_backlog",
            "fulcrum_sequence_idle_ended_total",
            "fulcrum_sequence_slots",
            "fulcrum_sequence_slots_held",
            "fulcrum_slo_attainment_ratio",
            "fulcrum_slo_capacity_requests_per_second",
            "fulcrum_slo_cpu_cores",
            "fulcrum_slo_cpu_pressure_ratio",
            "fulcrum_slo_load_ratio",
            "fulcrum_slo_rejections_total",
            "fulcrum_startup_seconds",
            "nv_cache_hit_duration_per_model",
            "nv_cache_miss_duration_per_model",
            "nv_cache_num_hits_per_model",
            "nv_cache_num_misses_per_model",
            "nv_inference_compute_infer_duration_us",
            "nv_inference_compute_input_duration_us",
            "nv_inference_compute_output_duration_us",
            "nv_inference_count",
            "nv_inference_exec_count",
            "nv_inference_pending_request_count",
            "nv_inference_queue_duration_us",
            "nv_inference_request_duration_us",
            "nv_inference_request_failure",
            "nv_inference_request_success",
            "nv_model_load_duration_secs");
    assertThat(r.body())
        .contains("nv_inference_request_success{model=\"echo_fp32\",version=\"1\"} 3")
        .contains("nv_inference_count{model=\"echo_fp32\",version=\"1\"} 6")
        .contains(
            "nv_inference_request_failure{model=\"echo_fp32\",version=\"1\",reason=\"REJECTED\"} 0")
        .contains("fulcrum_request_duration_seconds_count{model=\"echo_fp32\",version=\"1\"} 3")
        .contains("fulcrum_batch_size_bucket{model=\"echo_fp32\",version=\"1\",le=\"2.0\"} 3")
        .contains("jvm_memory_used_bytes")
        .contains("process_cpu_seconds_total");
    assertThat(get(server.metricsBase() + "/other").statusCode()).isEqualTo(404);
  }

  /**
   * Prometheus always sends {@code Accept-Encoding: gzip}; a server of many models wrote 5.5 MB of
   * text per scrape at 300 models, ~0.2 MB gzipped. A client that does not ask gets plain text.
   */
  @Test
  void aScraperThatAcceptsGzipGetsTheScrapeGzipped() throws Exception {
    infer(1);
    HttpResponse<byte[]> zipped =
        client.send(
            HttpRequest.newBuilder(URI.create(server.metricsBase() + "/metrics"))
                .header("Accept-Encoding", "gzip")
                .build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertThat(zipped.statusCode()).isEqualTo(200);
    assertThat(zipped.headers().firstValue("content-encoding")).hasValue("gzip");
    assertThat(zipped.headers().firstValue("vary")).hasValue("accept-encoding");
    String text;
    try (java.util.zip.GZIPInputStream in =
        new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(zipped.body()))) {
      text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertThat(text)
        .contains("# TYPE nv_inference_request_success counter")
        .contains("nv_inference_request_success{model=\"echo_fp32\",version=\"1\"}")
        .contains("jvm_memory_used_bytes");
    assertThat(zipped.body().length).isLessThan(text.length());

    HttpResponse<String> plain = get(server.metricsBase() + "/metrics");
    assertThat(plain.headers().firstValue("content-encoding")).isEmpty();
    assertThat(plain.body()).contains("# TYPE nv_inference_request_success counter");
    HttpResponse<String> refused =
        client.send(
            HttpRequest.newBuilder(URI.create(server.metricsBase() + "/metrics"))
                .header("Accept-Encoding", "gzip;q=0, identity")
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(refused.headers().firstValue("content-encoding")).isEmpty();
    assertThat(refused.body()).contains("# TYPE nv_inference_request_success counter");
  }

  /**
   * {@code name[]} selects families as the Prometheus Java client's exporters do: the hand-written
   * families (Triton's, the SLO's) and the client's own (histograms, JVM) alike; a name with its
   * type's suffix ({@code _total}, {@code _bucket}) selects its family.
   */
  @Test
  void nameParametersSelectFamilies() throws Exception {
    infer(1);
    String body =
        get("http://127.0.0.1:"
                + server.metrics.port()
                + "/metrics?name[]=nv_inference_count&name%5B%5D=fulcrum_request_duration_seconds"
                + "&name[]=fulcrum_rejected_requests_total&name[]=jvm_threads_current")
            .body();
    Set<String> families =
        Arrays.stream(body.split("\n"))
            .filter(l -> l.startsWith("# TYPE "))
            .map(l -> l.substring(7, l.indexOf(' ', 7)))
            .collect(Collectors.toCollection(TreeSet::new));
    assertThat(families)
        .containsExactly(
            "fulcrum_rejected_requests_total",
            "fulcrum_request_duration_seconds",
            "jvm_threads_current",
            "nv_inference_count");
    assertThat(body).contains("nv_inference_count{model=\"echo_fp32\",version=\"1\"}");
    assertThat(body)
        .contains("fulcrum_request_duration_seconds_count{model=\"echo_fp32\",version=\"1\"}");
    // A name no family has: an empty scrape, not an error.
    HttpResponse<String> none = get(server.metricsBase() + "/metrics?name[]=no_such_family");
    assertThat(none.statusCode()).isEqualTo(200);
    assertThat(none.body()).isEmpty();
  }

  @Test
  void cacheAndPipelineFamiliesHaveSeriesOnlyForTheModelsThatHaveThem() throws Exception {
    // A server of many small models would otherwise export six zero series per model that no
    // model of it can ever move (a platform team's one-model-per-customer server).
    String body = get(server.metricsBase() + "/metrics").body();
    List<String> series =
        Arrays.stream(body.split("\n"))
            .filter(l -> l.startsWith("nv_cache_") || l.startsWith("fulcrum_pipeline_"))
            .toList();
    assertThat(series)
        .containsExactlyInAnyOrder(
            "nv_cache_num_hits_per_model{model=\"cached\",version=\"1\"} 0",
            "nv_cache_num_misses_per_model{model=\"cached\",version=\"1\"} 0",
            "nv_cache_hit_duration_per_model{model=\"cached\",version=\"1\"} 0",
            "nv_cache_miss_duration_per_model{model=\"cached\",version=\"1\"} 0");
    // Every other family still has a series per served version.
    assertThat(body).contains("nv_inference_count{model=\"echo_fp32\",version=\"1\"}");
    assertThat(body).contains("nv_inference_count{model=\"cached\",version=\"1\"}");
  }

  @Test
  void statisticsEndpointCountsRequestsInTritonsSchema() throws Exception {
    JsonNode before = JSON.readTree(get(server.base() + "/v2/models/echo_int32/stats").body());
    assertThat(before.at("/model_stats/0/inference_stats/success/count").asLong()).isZero();
    String body =
        """
        {"inputs":[{"name":"IN","shape":[3,1],"datatype":"INT32","data":[1,2,3]}]}""";
    for (int i = 0; i < 2; i++) {
      client.send(
          HttpRequest.newBuilder(URI.create(server.base() + "/v2/models/echo_int32/infer"))
              .POST(HttpRequest.BodyPublishers.ofString(body))
              .build(),
          HttpResponse.BodyHandlers.ofString());
    }
    JsonNode s =
        JSON.readTree(get(server.base() + "/v2/models/echo_int32/stats").body())
            .at("/model_stats/0");
    assertThat(s.get("name").asText()).isEqualTo("echo_int32");
    assertThat(s.get("version").asText()).isEqualTo("1");
    assertThat(s.get("inference_count").asLong()).isEqualTo(6);
    assertThat(s.get("execution_count").asLong()).isEqualTo(2);
    assertThat(s.at("/inference_stats/success/count").asLong()).isEqualTo(2);
    assertThat(s.at("/inference_stats/queue/count").asLong()).isEqualTo(2);
    assertThat(s.at("/inference_stats/compute_infer/count").asLong()).isEqualTo(2);
    assertThat(s.at("/batch_stats/0/batch_size").asInt()).isEqualTo(3);
    assertThat(s.get("last_inference").asLong()).isPositive();

    JsonNode all = JSON.readTree(get(server.base() + "/v2/models/stats").body());
    assertThat(all.get("model_stats").size()).isGreaterThan(10);
    assertThat(get(server.base() + "/v2/models/nope/stats").statusCode()).isEqualTo(404);
    JsonNode metadata = JSON.readTree(get(server.base() + "/v2").body());
    assertThat(metadata.get("extensions").toString()).contains("statistics");
  }
}
