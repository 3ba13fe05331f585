package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.error;
import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static dev.fulcrum.server.e2e.E2eServer.output;
import static dev.fulcrum.server.e2e.E2eServer.text;
import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.stats.ModelStatistics;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.runtime.onnx.OnnxRuntimeBackend;
import dev.fulcrum.server.Await;
import dev.fulcrum.testkit.onnx.OnnxModelBuilder;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One bad request does not fail the batch it joined: with real ONNX Runtime and an embedding lookup
 * (a {@code Gather} on a 10-row table), requests queued behind a held pass are joined into one
 * batch; one of them holds an index out of the table, so ONNX Runtime fails the whole pass
 * (INVALID_ARGUMENT, "indices element out of data bounds"). The batch is then run member by member:
 * the good requests get 200 with their rows, the bad one 400. The index reaches the {@code Gather}
 * through an {@code Add}, so no check before the engine can know its bound.
 */
class BatchIsolationE2eTest {
  private static final String LOOKUP = "lookup";

  @TempDir Path repo;

  @Test
  void goodRequestsBatchedWithABadOneAreAnsweredAndOnlyTheBadOneGets400() throws Exception {
    float[] table = new float[20];
    for (int i = 0; i < table.length; i++) {
      table[i] = i;
    }
    OnnxModelBuilder.create(LOOKUP)
        .input("ids", DataType.INT64, OnnxModelBuilder.DYNAMIC, 2)
        .output("vectors", DataType.FP32, OnnxModelBuilder.DYNAMIC, 2, 2)
        .longInitializer("zero", new long[0], 0L)
        .floatInitializer("table", new long[] {10, 2}, table)
        .node("Add", List.of("ids", "zero"), List.of("shifted"))
        .node(
            "Gather",
            List.of("table", "shifted"),
            List.of("vectors"),
            OnnxModelBuilder.intAttr("axis", 0))
        .write(repo.resolve(LOOKUP).resolve("1").resolve("model.onnx"));
    GatedRuntime runtime = new GatedRuntime(new OnnxRuntimeBackend(), LOOKUP);
    try (E2eServer server = E2eServer.start(repo, runtime)) {
      try {
        ModelVersion lookup = server.service.repository().resolve(LOOKUP, "");
        CompletableFuture<HttpResponse<byte[]>> first = send(server, 0, 1);
        assertThat(runtime.entered.await(60, TimeUnit.SECONDS)).isTrue();
        List<CompletableFuture<HttpResponse<byte[]>>> goods = new ArrayList<>();
        goods.add(send(server, 2, 3));
        CompletableFuture<HttpResponse<byte[]>> bad = send(server, 4, 99_999_999);
        goods.add(send(server, 5, 6));
        Await.until("three requests queue", () -> lookup.scheduler().queued() == 3);
        ModelStatistics.Snapshot before = lookup.statistics().snapshot();
        runtime.open.countDown();

        assertThat(first.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        int[][] ids = {{2, 3}, {5, 6}};
        for (int g = 0; g < goods.size(); g++) {
          HttpResponse<byte[]> r = goods.get(g).get(60, TimeUnit.SECONDS);
          assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
          int a = ids[g][0];
          int b = ids[g][1];
          List<Double> values = new ArrayList<>();
          output(r, "vectors").get("data").forEach(v -> values.add(v.asDouble()));
          assertThat(values).containsExactly(2.0 * a, 2.0 * a + 1, 2.0 * b, 2.0 * b + 1);
        }
        HttpResponse<byte[]> refused = bad.get(60, TimeUnit.SECONDS);
        assertThat(refused.statusCode()).as(text(refused)).isEqualTo(400);
        assertThat(error(refused)).contains("out of");
        ModelStatistics.Snapshot after = lookup.statistics().snapshot();
        assertThat(after.fail().count() - before.fail().count()).isEqualTo(1);
        assertThat(after.success().count() - before.success().count()).isEqualTo(3);
      } finally {
        runtime.open.countDown();
      }
    }
  }

  @Test
  void inputsThatGiveANamedDimensionTwoSizesAreRefusedBeforeTheEngine() throws Exception {
    String sum = "pair_sum";
    long d = OnnxModelBuilder.DYNAMIC;
    OnnxModelBuilder.create(sum)
        .input("a", DataType.FP32, d, d)
        .input("b", DataType.FP32, d, d)
        .output("c", DataType.FP32, d, d)
        .dimNames("a", "batch", "sequence")
        .dimNames("b", "batch", "sequence")
        .dimNames("c", "batch", "sequence")
        .node("Add", List.of("a", "b"), List.of("c"))
        .write(repo.resolve(sum).resolve("1").resolve("model.onnx"));
    try (E2eServer server = E2eServer.start(repo)) {
      ModelVersion v = server.service.repository().resolve(sum, "");
      String mismatched =
          """
          {"inputs": [
            {"name": "a", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]},
            {"name": "b", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}""";
      HttpResponse<byte[]> r = server.post(inferPath(sum), mismatched);
      assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
      assertThat(error(r))
          .contains("'b' has shape [1, 2]", "'a' has [1, 3]", "'sequence'")
          .doesNotContain("ONNX Runtime");
      String matched =
          """
          {"inputs": [
            {"name": "a", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]},
            {"name": "b", "datatype": "FP32", "shape": [1, 2], "data": [10, 20]}]}""";
      HttpResponse<byte[]> ok = server.post(inferPath(sum), matched);
      assertThat(ok.statusCode()).as(text(ok)).isEqualTo(200);
      assertThat(v.statistics().snapshot().executionCount())
          .as("refused before the engine")
          .isEqualTo(1);
    }
  }

  @Test
  void anIndexOutOfTheTableIsRefusedBeforeTheEngine() throws Exception {
    String embed = "embed";
    float[] table = new float[20];
    for (int i = 0; i < table.length; i++) {
      table[i] = i;
    }
    OnnxModelBuilder.create(embed)
        .input("ids", DataType.INT64, OnnxModelBuilder.DYNAMIC, 2)
        .output("vectors", DataType.FP32, OnnxModelBuilder.DYNAMIC, 2, 2)
        .floatInitializer("table", new long[] {10, 2}, table)
        .node("Cast", List.of("ids"), List.of("ids32"), OnnxModelBuilder.intAttr("to", 6))
        .node("Gather", List.of("table", "ids32"), List.of("vectors"))
        .write(repo.resolve(embed).resolve("1").resolve("model.onnx"));
    try (E2eServer server = E2eServer.start(repo)) {
      ModelVersion v = server.service.repository().resolve(embed, "");
      for (long bad : new long[] {10, -11, 99_999_999, Long.MIN_VALUE}) {
        HttpResponse<byte[]> r = send(server, embed, 3, bad).get(60, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as(text(r)).isEqualTo(400);
        assertThat(error(r)).contains("'ids'", "element 1", "is " + bad, "index range -10..9");
      }
      // Gather counts a negative index from the end, as ONNX Runtime does: -1 is row 9, -10 row 0.
      long[][] valid = {{0, 9}, {-1, -10}};
      float[][] rows = {{0, 1, 18, 19}, {18, 19, 0, 1}};
      for (int k = 0; k < valid.length; k++) {
        HttpResponse<byte[]> r =
            send(server, embed, valid[k][0], valid[k][1]).get(60, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
        List<Double> values = new ArrayList<>();
        output(r, "vectors").get("data").forEach(x -> values.add(x.asDouble()));
        assertThat(values)
            .containsExactly(
                (double) rows[k][0], (double) rows[k][1], (double) rows[k][2], (double) rows[k][3]);
      }
      assertThat(v.statistics().snapshot().executionCount())
          .as("refused before the engine")
          .isEqualTo(2);
    }
  }

  private static CompletableFuture<HttpResponse<byte[]>> send(E2eServer server, long a, long b) {
    return send(server, LOOKUP, a, b);
  }

  private static CompletableFuture<HttpResponse<byte[]>> send(
      E2eServer server, String model, long a, long b) {
    return server.sendAsync(
        server.jsonRequest(
            inferPath(model),
            """
            {"inputs":[{"name":"ids","shape":[1,2],"datatype":"INT64","data":[%d,%d]}]}"""
                .formatted(a, b)));
  }
}
