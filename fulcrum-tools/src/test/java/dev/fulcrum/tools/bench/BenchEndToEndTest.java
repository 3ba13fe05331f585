package dev.fulcrum.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.server.codec.Json;
import dev.fulcrum.server.security.Security;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs {@code fulcrum bench} against a real Fulcrum server (HTTP and gRPC on ephemeral ports). */
class BenchEndToEndTest {
  @AutoClose private static BenchServer server;

  @TempDir static Path tmp;

  @BeforeAll
  static void startServer() throws Exception {
    server = BenchServer.start(tmp, Security.none());
  }

  private static BenchRun bench(String... args) {
    return BenchRun.of(args);
  }

  @Test
  void closedLoopAccountsForEveryRequest() throws Exception {
    Path json = tmp.resolve("closed.json");
    BenchRun r =
        bench(
            "--model", "fraud_classifier",
            "--url", "http://127.0.0.1:" + server.http.port(),
            "--protocol", "rest-binary",
            "--concurrency", "2",
            "--batch-size", "4",
            "--warmup", "300ms",
            "--window", "700ms",
            "--max-windows", "3",
            "--output", json.toString());
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.out()).contains("c=2").contains("req/s").contains("p99.9");
    JsonNode row = Json.MAPPER.readTree(json.toFile()).get(0);
    long sent = row.get("sent_total").asLong();
    assertThat(sent).isPositive();
    assertThat(row.get("completed_total").asLong()).isEqualTo(sent);
    assertThat(row.get("errors_total").asLong()).isZero();
    assertThat(row.get("ok_total").asLong()).isPositive();
    assertThat(row.get("requests_per_second").isNumber()).isTrue();
    assertThat(row.get("inferences_per_second").asDouble())
        .isEqualTo(
            4 * row.get("requests_per_second").asDouble(),
            org.assertj.core.api.Assertions.within(0.2));
  }

  @Test
  void openLoopOverJsonAccountsForEveryRequest() throws Exception {
    Path csv = tmp.resolve("open.csv");
    BenchRun r =
        bench(
            "--model", "fraud_classifier",
            "--url", "http://127.0.0.1:" + server.http.port(),
            "--protocol", "rest-json",
            "--rate", "100",
            "--distribution", "poisson",
            "--warmup", "300ms",
            "--window", "700ms",
            "--max-windows", "3",
            "--output", csv.toString());
    assertThat(r.exit()).as(r.err()).isZero();
    List<String> lines = Files.readAllLines(csv);
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0)).startsWith("target,load,req/s");
    assertThat(lines.get(1)).startsWith("server,r=100~p,");
  }

  @Test
  void inProcessRunsTheSameInputsOnOnnxRuntime() {
    BenchRun r =
        bench(
            "--model",
            "fraud_classifier",
            "--in-process",
            "--model-repository",
            BenchServer.DEMO.getParent().toString(),
            "--threads",
            "1",
            "--concurrency",
            "1",
            "--warmup",
            "200ms",
            "--window",
            "500ms",
            "--max-windows",
            "3");
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.out()).contains("in-process");
  }

  @Test
  void grpcClosedLoopAccountsForEveryRequestWithoutRest() throws Exception {
    Path json = tmp.resolve("grpc.json");
    BenchRun r =
        bench(
            "--model", "fraud_classifier",
            // Nothing listens on port 1: metadata, config and statistics must come over gRPC.
            "--url", "http://127.0.0.1:1",
            "--protocol", "grpc",
            "--grpc-url", "127.0.0.1:" + server.grpc.port(),
            "--grpc-channels", "2",
            "--concurrency", "4",
            "--batch-size", "4",
            "--warmup", "300ms",
            "--window", "700ms",
            "--max-windows", "3",
            "--output", json.toString());
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.out()).contains("c=4").contains("req/s");
    JsonNode row = Json.MAPPER.readTree(json.toFile()).get(0);
    long sent = row.get("sent_total").asLong();
    long ok = row.get("ok_total").asLong();
    assertThat(ok).isPositive();
    assertThat(sent).isPositive();
    assertThat(row.get("completed_total").asLong()).isEqualTo(sent);
    assertThat(row.get("errors_total").asLong()).isZero();
    for (String kind :
        List.of("rejected_total", "timed_out_total", "unavailable_total", "other_errors_total")) {
      assertThat(row.get(kind).asLong()).as(kind).isZero();
    }
    // The queue/compute split came from the gRPC ModelStatistics RPC.
    assertThat(row.get("server_compute_ms").asDouble()).isPositive();
    assertThat(row.get("requests_per_second").isNumber()).isTrue();
    assertThat(row.get("inferences_per_second").asDouble())
        .isEqualTo(
            4 * row.get("requests_per_second").asDouble(),
            org.assertj.core.api.Assertions.within(0.2));
  }

  @Test
  void grpcTypedContentsInOpenLoop() throws Exception {
    Path json = tmp.resolve("grpc-typed.json");
    BenchRun r =
        bench(
            "--model", "fraud_classifier",
            "--protocol", "grpc",
            "--grpc-url", "127.0.0.1:" + server.grpc.port(),
            "--grpc-contents", "typed",
            "--rate", "100",
            "--warmup", "300ms",
            "--window", "700ms",
            "--max-windows", "3",
            "--output", json.toString());
    assertThat(r.exit()).as(r.err()).isZero();
    JsonNode row = Json.MAPPER.readTree(json.toFile()).get(0);
    long sent = row.get("sent_total").asLong();
    assertThat(sent).isPositive();
    assertThat(row.get("completed_total").asLong()).isEqualTo(sent);
    assertThat(row.get("errors_total").asLong()).isZero();
    assertThat(row.get("ok_total").asLong()).isPositive();
  }

  @Test
  void grpcWithoutAServerFailsOnMetadata() {
    BenchRun r =
        bench(
            "--model", "fraud_classifier",
            "--protocol", "grpc",
            "--grpc-url", "127.0.0.1:1",
            "--warmup", "100ms",
            "--window", "100ms");
    assertThat(r.exit()).isNotZero();
    assertThat(r.err()).contains("gRPC ModelMetadata").contains("UNAVAILABLE");
  }

  @Test
  void restWithoutAServerSaysWhereItLookedAndWhatToCheck() {
    // Through the command line main builds: its handler prints an IOException on one line.
    dev.fulcrum.tools.CliRun r =
        dev.fulcrum.tools.CliRun.of(
            "bench",
            "--model",
            "fraud_classifier",
            "--url",
            "http://127.0.0.1:1",
            "--warmup",
            "100ms",
            "--window",
            "100ms");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err())
        .contains("could not be reached at 127.0.0.1:1 (connection refused)")
        .contains("fulcrum serve")
        .contains("--url")
        .doesNotContain("null");
  }

  @Test
  void badGrpcContentsIsAUsageError() {
    BenchRun r =
        bench("--model", "fraud_classifier", "--protocol", "grpc", "--grpc-contents", "json");
    assertThat(r.exit()).isEqualTo(2);
  }

  @Test
  void meaninglessSettingsAreUsageErrorsBeforeAnyRequest() {
    for (List<String> bad :
        List.of(
            List.of("--concurrency", "0"),
            List.of("--concurrency", "abc"),
            List.of("--rate", "-5"),
            List.of("--rate", "100", "--distribution", "foo"),
            List.of("--stability", "-1"),
            List.of("--window", "0s"),
            List.of("--max-windows", "0"),
            List.of("--batch-size", "0"),
            List.of("--input-order", "foo"),
            List.of("--shape", "features:abc"),
            List.of("--output", "results.txt"))) {
      List<String> args = new java.util.ArrayList<>(List.of("--model", "fraud_classifier"));
      args.addAll(bad);
      args.addAll(List.of("--url", "http://127.0.0.1:1"));
      BenchRun r = bench(args.toArray(String[]::new));
      assertThat(r.exit()).as(bad.toString()).isEqualTo(2);
      assertThat(r.err()).as(bad.toString()).contains(bad.get(0)).doesNotContain("\tat ");
    }
  }
}
