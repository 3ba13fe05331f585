package dev.fulcrum.tools.predict;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.tools.CliRun;
import dev.fulcrum.tools.serve.ServeProcess;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fulcrum predict} on the demo's {@code fraud_classifier} against a served Fulcrum ({@link
 * ServeProcess}): a CSV file and JSON lines score as {@code POST /v2/models/fraud_classifier/infer}
 * answers the same rows; stdin to stdout in a process of its own; 200,000 rows in a 48 MiB heap, in
 * order.
 */
class PredictE2eTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String COLUMNS =
      "amount_usd,hour_of_day,merchant_risk,distance_from_home_km,transactions_last_24h,"
          + "account_age_days,is_foreign,card_present";

  @TempDir static Path dir;

  private static Path repo;
  private static Process server;
  private static int port;

  /** 300 rows of eight features, as decimal text. */
  private static final List<String> ROWS = rows(300, new Random(45));

  private static List<String> rows(int n, Random r) {
    List<String> rows = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      rows.add(
          String.join(
              ",",
              String.valueOf(Math.round(r.nextDouble() * 500000) / 100.0),
              String.valueOf(r.nextInt(24)),
              String.valueOf(Math.round(r.nextDouble() * 100) / 100.0),
              String.valueOf(Math.round(r.nextDouble() * 9000) / 10.0),
              String.valueOf(r.nextInt(20)),
              String.valueOf(1 + r.nextInt(3000)),
              String.valueOf(r.nextInt(2)),
              String.valueOf(r.nextInt(2))));
    }
    return List.copyOf(rows);
  }

  @BeforeAll
  static void serve() throws Exception {
    repo = PredictCommandTest.fraudRepo(dir.resolve("repo"), "");
    Path log = dir.resolve("serve.log");
    server =
        new ProcessBuilder(ServeProcess.command(repo))
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    port = ServeProcess.port(log, ServeProcess.HTTP_PORT);
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.destroy();
      if (!server.waitFor(30, TimeUnit.SECONDS)) {
        server.destroyForcibly();
      }
    }
  }

  /** The served answers of the rows, in requests of 50: per row {probabilities, label}. */
  private static List<JsonNode> served(List<String> rows) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    List<JsonNode> answers = new ArrayList<>();
    for (int from = 0; from < rows.size(); from += 50) {
      List<String> part = rows.subList(from, Math.min(rows.size(), from + 50));
      String body =
          "{\"inputs\":[{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":["
              + part.size()
              + ",8],\"data\":["
              + String.join(",", part)
              + "]}]}";
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + port + "/v2/models/fraud_classifier/infer"))
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      JsonNode probabilities = null;
      JsonNode labels = null;
      for (JsonNode o : JSON.readTree(r.body()).get("outputs")) {
        if (o.get("name").asText().equals("probabilities")) {
          probabilities = o.get("data");
        } else if (o.get("name").asText().equals("label")) {
          labels = o.get("data");
        }
      }
      assertThat(probabilities).isNotNull();
      assertThat(labels).isNotNull();
      for (int i = 0; i < part.size(); i++) {
        answers.add(
            JSON.createObjectNode()
                .<com.fasterxml.jackson.databind.node.ObjectNode>set(
                    "probabilities",
                    JSON.createArrayNode()
                        .add(probabilities.get(2 * i).floatValue())
                        .add(probabilities.get(2 * i + 1).floatValue()))
                .put("label", labels.get(i).asLong()));
      }
    }
    return answers;
  }

  private static void sameAsServed(List<String> lines, List<JsonNode> served) throws Exception {
    assertThat(lines).hasSize(served.size());
    for (int i = 0; i < lines.size(); i++) {
      JsonNode row = JSON.readTree(lines.get(i));
      JsonNode want = served.get(i);
      assertThat(row.get("probabilities").get(0).floatValue())
          .as("row %d", i)
          .isEqualTo(want.get("probabilities").get(0).floatValue());
      assertThat(row.get("probabilities").get(1).floatValue())
          .as("row %d", i)
          .isEqualTo(want.get("probabilities").get(1).floatValue());
      assertThat(row.get("label").asLong()).as("row %d", i).isEqualTo(want.get("label").asLong());
    }
  }

  private static String jsonLines(List<String> rows) {
    String[] names = COLUMNS.split(",");
    StringBuilder sb = new StringBuilder();
    for (String row : rows) {
      String[] v = row.split(",");
      sb.append('{');
      for (int i = 0; i < names.length; i++) {
        sb.append(i > 0 ? "," : "").append('"').append(names[i]).append("\":").append(v[i]);
      }
      sb.append("}\n");
    }
    return sb.toString();
  }

  @Test
  void csvAndJsonLinesScoreAsTheServerAnswers() throws Exception {
    List<JsonNode> served = served(ROWS);
    Path csv = Files.writeString(dir.resolve("rows.csv"), COLUMNS + "\n" + String.join("\n", ROWS));
    Path jsonl = Files.writeString(dir.resolve("rows.jsonl"), jsonLines(ROWS));
    for (Path in : List.of(csv, jsonl)) {
      Path out = dir.resolve(in.getFileName() + ".scores.jsonl");
      CliRun run =
          CliRun.of(
              "predict",
              "--model-repository",
              repo.toString(),
              "--model",
              "fraud_classifier:1",
              "--input",
              in.toString(),
              "--output",
              out.toString());
      assertThat(run.code()).as(run.err()).isZero();
      sameAsServed(Files.readAllLines(out, StandardCharsets.UTF_8), served);
    }
  }

  @Test
  void readsStdinAndWritesStdoutInAProcessOfItsOwn() throws Exception {
    List<String> rows = ROWS.subList(0, 100);
    Process p =
        new ProcessBuilder(
                ServeProcess.fulcrum(
                    List.of(),
                    List.of(
                        "predict",
                        "--model-repository",
                        repo.toString(),
                        "--model",
                        "fraud_classifier",
                        "--input",
                        "-",
                        "--output",
                        "-")))
            .redirectError(dir.resolve("stdin.err").toFile())
            .start();
    try (OutputStream stdin = p.getOutputStream()) {
      stdin.write(jsonLines(rows).getBytes(StandardCharsets.UTF_8));
    }
    List<String> lines;
    try (BufferedReader stdout =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      lines = stdout.lines().toList();
    }
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    String err = Files.readString(dir.resolve("stdin.err"));
    assertThat(p.exitValue()).as(err).isZero();
    assertThat(err).contains("predict: 100 rows, 0 errors");
    sameAsServed(lines, served(rows));
  }

  @Test
  void twoHundredThousandRowsInASmallHeapInOrder() throws Exception {
    // Row i is row i % 7 of ROWS: each answer in its place shows that the order held.
    int n = 200_000;
    Path in = dir.resolve("large.csv");
    try (var w = Files.newBufferedWriter(in, StandardCharsets.UTF_8)) {
      w.write(COLUMNS + "\n");
      for (int i = 0; i < n; i++) {
        w.write(ROWS.get(i % 7));
        w.write('\n');
      }
    }
    Path out = dir.resolve("large.jsonl");
    Process p =
        new ProcessBuilder(
                ServeProcess.fulcrum(
                    List.of("-Xmx48m"),
                    List.of(
                        "predict",
                        "--model-repository",
                        repo.toString(),
                        "--model",
                        "fraud_classifier",
                        "--input",
                        in.toString(),
                        "--output",
                        out.toString())))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("large.log").toFile())
            .start();
    assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
    String log = Files.readString(dir.resolve("large.log"));
    assertThat(p.exitValue()).as(log).isZero();
    assertThat(log).contains("predict: 200000 rows, 0 errors");
    List<JsonNode> served = served(ROWS.subList(0, 7));
    int i = 0;
    try (BufferedReader r = Files.newBufferedReader(out, StandardCharsets.UTF_8)) {
      for (String line = r.readLine(); line != null; line = r.readLine(), i++) {
        if (i % 997 == 0 || i >= n - 7) {
          sameAsServed(List.of(line), List.of(served.get(i % 7)));
        }
      }
    }
    assertThat(i).isEqualTo(n);
  }
}
