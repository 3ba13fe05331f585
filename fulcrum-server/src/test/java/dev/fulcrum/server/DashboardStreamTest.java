package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.server.dashboard.DashboardFeed;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import dev.fulcrum.server.security.Security;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /dashboard} over real sockets with an inference token configured: the page and its files
 * are open (a browser cannot send a token when it opens a page, and they hold no data), the event
 * stream needs the token and starts with the history, and a drain ends the streams (their last
 * chunk written, not cut by the port's close) without waiting for them.
 */
class DashboardStreamTest {
  private static final String TOKEN = "inference-token-0123456789abcdef";
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path root;
  private InferenceService service;
  private DashboardFeed feed;
  private HttpServer http;
  private HttpClient client;

  @BeforeEach
  void start() throws Exception {
    service = TestModels.service(root);
    feed = new DashboardFeed();
    feed.bind(service.repository());
    feed.start();
    AccessPolicy access =
        new AccessPolicy(
            List.of(new AccessPolicy.Token(Scope.INFERENCE, TOKEN)), "127.0.0.1", false);
    http =
        new HttpServer(
                service,
                new HttpServerConfig(
                    "127.0.0.1",
                    0,
                    HttpServerConfig.DEFAULT_MAX_INPUT_SIZE,
                    1,
                    HttpServerConfig.Limits.defaults(),
                    new Security(access, Optional.empty())))
            .dashboard(feed)
            .start();
    client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  }

  @AfterEach
  void stop() {
    feed.close();
    http.close();
    service.repository().close();
  }

  private HttpRequest.Builder get(String path) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + path))
        .timeout(Duration.ofSeconds(60))
        .GET();
  }

  @Test
  void thePageIsOpenAndItsFilesComeFromTheClasspath() throws Exception {
    HttpResponse<String> page = client.send(get("/dashboard").build(), ofString());
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
    assertThat(page.headers().firstValue("Content-Security-Policy"))
        .hasValueSatisfying(v -> assertThat(v).contains("default-src 'self'"));
    assertThat(page.body()).contains("/dashboard/uPlot.iife.min.js");
    for (String file :
        List.of("dashboard.js", "dashboard.css", "uPlot.iife.min.js", "uPlot.min.css")) {
      HttpResponse<String> r = client.send(get("/dashboard/" + file).build(), ofString());
      assertThat(r.statusCode()).as(file).isEqualTo(200);
      assertThat(r.body()).as(file).isNotEmpty();
    }
    HttpResponse<String> missing =
        client.send(get("/dashboard/..%2Fversion.properties").build(), ofString());
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(JSON.readTree(missing.body()).get("error").asText()).contains("no dashboard file");
  }

  @Test
  void theStreamNeedsTheInferenceScopeAndStartsWithTheHistory() throws Exception {
    HttpResponse<String> refused = client.send(get("/dashboard/events").build(), ofString());
    assertThat(refused.statusCode()).isEqualTo(401);

    HttpResponse<InputStream> stream =
        client.send(
            get("/dashboard/events").header("Authorization", "Bearer " + TOKEN).build(),
            HttpResponse.BodyHandlers.ofInputStream());
    assertThat(stream.statusCode()).isEqualTo(200);
    assertThat(stream.headers().firstValue("Content-Type"))
        .hasValue("text/event-stream; charset=utf-8");
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8))) {
      JsonNode first = nextFrame(in);
      assertThat(first.get("kind").asText()).isEqualTo("history");
      assertThat(first.get("models").findValuesAsText("model")).contains("simple", "versioned");
      JsonNode second = nextFrame(in);
      assertThat(second.get("kind").asText()).isEqualTo("tick");
      assertThat(feed.subscribers()).isEqualTo(1);
    }
    Await.until("the closed stream leaves the feed", () -> feed.subscribers() == 0);
  }

  /**
   * A page that accepts gzip (a browser's {@code fetch()} always does) gets its frames compressed
   * (session 36: the first frame of 200 monitored models, 5.58 MB, was 78 KB): one gzip member,
   * whose frames decode as the plain stream's, and which a drain ends whole (trailer and all: a
   * reader of the member to its end throws nothing).
   */
  @Test
  void aPageThatAcceptsGzipGetsTheFramesCompressedAndAWholeMemberAtTheEnd() throws Exception {
    HttpResponse<InputStream> stream =
        client.send(
            get("/dashboard/events")
                .header("Authorization", "Bearer " + TOKEN)
                .header("Accept-Encoding", "gzip, deflate, br, zstd")
                .build(),
            HttpResponse.BodyHandlers.ofInputStream());
    assertThat(stream.statusCode()).isEqualTo(200);
    assertThat(stream.headers().firstValue("Content-Encoding")).hasValue("gzip");
    assertThat(stream.headers().firstValue("Content-Type"))
        .hasValue("text/event-stream; charset=utf-8");
    try (BufferedReader in =
        new BufferedReader(
            new InputStreamReader(
                new java.util.zip.GZIPInputStream(stream.body(), 512), StandardCharsets.UTF_8))) {
      JsonNode first = nextFrame(in);
      assertThat(first.get("kind").asText()).isEqualTo("history");
      assertThat(first.get("models").findValuesAsText("model")).contains("simple", "versioned");
      assertThat(nextFrame(in).get("kind").asText()).isEqualTo("tick");
      assertThat(nextFrame(in).get("kind").asText()).isEqualTo("tick");
      drainAndReadToEnd(in); // an EOFException here: the gzip member was cut, not ended
    }
  }

  @Test
  void aDrainEndsTheStreamsAndDoesNotWaitForThem() throws Exception {
    HttpResponse<InputStream> stream =
        client.send(
            get("/dashboard/events").header("Authorization", "Bearer " + TOKEN).build(),
            HttpResponse.BodyHandlers.ofInputStream());
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8))) {
      nextFrame(in);
      assertThat(service.responses().count()).as("a stream is not a response in flight").isZero();
      // Ended, not cut: the last chunk arrives before the connection closes, so reading to the
      // end throws nothing (a cut chunked stream is an IOException here, and Chrome's
      // ERR_INCOMPLETE_CHUNKED_ENCODING on the page). Without requests in flight the drain is
      // shorter than the feed's tick: the port's close ends the streams itself.
      drainAndReadToEnd(in);
    }
  }

  /** Runs the server's drain, which must end, then reads the stream to its end. */
  private void drainAndReadToEnd(BufferedReader in) throws Exception {
    CompletableFuture<Boolean> shutdown =
        CompletableFuture.supplyAsync(
            () -> GracefulShutdown.run(service, http, null, Duration.ofSeconds(60)));
    assertThat(shutdown.get(60, TimeUnit.SECONDS)).isTrue();
    String line;
    do {
      line = in.readLine();
    } while (line != null);
  }

  private static JsonNode nextFrame(BufferedReader in) throws Exception {
    String line;
    while ((line = in.readLine()) != null) {
      if (line.startsWith("data: ")) {
        return JSON.readTree(line.substring(6));
      }
    }
    throw new AssertionError("the stream ended before a frame");
  }

  private static HttpResponse.BodyHandler<String> ofString() {
    return HttpResponse.BodyHandlers.ofString();
  }
}
