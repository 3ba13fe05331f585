package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.server.metrics.MetricsSecurity;
import dev.fulcrum.server.metrics.MetricsServer;
import dev.fulcrum.server.metrics.ServerMetrics;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import dev.fulcrum.server.security.Security;
import dev.fulcrum.server.security.Tls;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The metrics port's opt-in bearer token and TLS ({@code --metrics-auth}, {@code --metrics-tls}):
 * the REST port's tokens and certificate, reused; the test CA of {@link TlsTest}.
 */
class MetricsSecurityTest {
  private static final String INFERENCE = "scrape-me-please";
  private static final String MANAGEMENT = "manage-me-please";

  private static final Security SECURITY =
      new Security(
          new AccessPolicy(
              List.of(
                  new AccessPolicy.Token(Scope.INFERENCE, INFERENCE),
                  new AccessPolicy.Token(Scope.MANAGEMENT, MANAGEMENT)),
              "127.0.0.1",
              false),
          Optional.of(
              new Tls(TlsTest.tls("server.pem"), TlsTest.tls("server.key"), Optional.empty())));

  private static ServerMetrics metrics;
  private static MetricsServer tokenOnly;
  private static MetricsServer tlsOnly;
  private static MetricsServer both;
  private static MetricsServer managementTokenOnly;

  @BeforeAll
  static void start() throws Exception {
    metrics = new ServerMetrics(false);
    HttpServerConfig.Limits limits = HttpServerConfig.Limits.defaults();
    tokenOnly =
        new MetricsServer(
            "127.0.0.1", 0, metrics, limits, MetricsSecurity.of(SECURITY, true, false));
    tlsOnly =
        new MetricsServer(
            "127.0.0.1", 0, metrics, limits, MetricsSecurity.of(SECURITY, false, true));
    both =
        new MetricsServer(
            "127.0.0.1", 0, metrics, limits, MetricsSecurity.of(SECURITY, true, true));
    Security management =
        new Security(
            new AccessPolicy(
                List.of(new AccessPolicy.Token(Scope.MANAGEMENT, MANAGEMENT)), "127.0.0.1", false),
            Optional.empty());
    managementTokenOnly =
        new MetricsServer(
            "127.0.0.1", 0, metrics, limits, MetricsSecurity.of(management, true, false));
  }

  @AfterAll
  static void stop() {
    tokenOnly.close();
    tlsOnly.close();
    both.close();
    managementTokenOnly.close();
  }

  private static HttpResponse<String> scrape(
      String scheme, int port, @Nullable String authorization) throws Exception {
    return get(scheme, port, "/metrics", authorization);
  }

  private static HttpResponse<String> get(
      String scheme, int port, String path, @Nullable String authorization) throws Exception {
    HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1);
    if (scheme.equals("https")) {
      b.sslContext(TlsTest.trustingTestCa());
    }
    try (HttpClient client = b.build()) {
      HttpRequest.Builder r =
          HttpRequest.newBuilder(URI.create(scheme + "://localhost:" + port + path))
              .timeout(Duration.ofSeconds(30));
      if (authorization != null) {
        r.header("Authorization", authorization);
      }
      return client.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }
  }

  @Test
  void healthIsOpenWithoutATokenAndFollowsReadinessWhenGivenOne() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean ready =
        new java.util.concurrent.atomic.AtomicBoolean();
    try (MetricsServer withHealth =
        new MetricsServer(
            "127.0.0.1",
            0,
            metrics,
            HttpServerConfig.Limits.defaults(),
            MetricsSecurity.of(SECURITY, true, false),
            ready::get)) {
      int port = withHealth.port();
      assertThat(get("http", port, "/v2/health/live", null).statusCode()).isEqualTo(200);
      assertThat(get("http", port, "/v2/health/ready", null).statusCode()).isEqualTo(503);
      ready.set(true);
      assertThat(get("http", port, "/v2/health/ready", null).statusCode()).isEqualTo(200);
      assertThat(scrape("http", port, null).statusCode()).isEqualTo(401);
      assertThat(get("http", port, "/v2/models", null).statusCode()).isEqualTo(401);
    }
    // Without a readiness, as before: no health here.
    assertThat(get("http", tokenOnly.port(), "/v2/health/live", null).statusCode()).isEqualTo(401);
  }

  @Test
  void aScrapeWithoutATokenIsRefusedWithABearerChallenge() throws Exception {
    HttpResponse<String> r = scrape("http", tokenOnly.port(), null);
    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(r.headers().firstValue("WWW-Authenticate"))
        .hasValue("Bearer realm=\"fulcrum-metrics\"");
    assertThat(r.body()).doesNotContain("nv_inference");
  }

  @Test
  void aWrongTokenIsRefusedAsInvalid() throws Exception {
    HttpResponse<String> r = scrape("http", tokenOnly.port(), "Bearer not-a-token");
    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(r.headers().firstValue("WWW-Authenticate"))
        .hasValue("Bearer realm=\"fulcrum-metrics\", error=\"invalid_token\"");
  }

  @Test
  void aTokenOfEitherScopeScrapes() throws Exception {
    for (String token : List.of(INFERENCE, MANAGEMENT)) {
      HttpResponse<String> r = scrape("http", tokenOnly.port(), "Bearer " + token);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).contains("# TYPE");
    }
  }

  @Test
  void aManagementTokenAloneStillProtectsTheMetrics() throws Exception {
    assertThat(scrape("http", managementTokenOnly.port(), null).statusCode()).isEqualTo(401);
    assertThat(scrape("http", managementTokenOnly.port(), "Bearer " + MANAGEMENT).statusCode())
        .isEqualTo(200);
  }

  @Test
  void tlsServesHttpsWithTheRestCertificateAndRefusesCleartext() throws Exception {
    HttpResponse<String> r = scrape("https", tlsOnly.port(), null);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("# TYPE");
    assertThatThrownBy(() -> scrape("http", tlsOnly.port(), null)).isInstanceOf(IOException.class);
  }

  @Test
  void tlsAndTokenTogether() throws Exception {
    assertThat(scrape("https", both.port(), null).statusCode()).isEqualTo(401);
    assertThat(scrape("https", both.port(), "Bearer " + INFERENCE).statusCode()).isEqualTo(200);
  }

  @Test
  void flagsThatNeedWhatIsNotConfiguredAreRefusedByName() {
    assertThatThrownBy(() -> MetricsSecurity.of(Security.none(), true, false))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--metrics-auth needs a token");
    assertThatThrownBy(() -> MetricsSecurity.of(Security.none(), false, true))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--metrics-tls needs --tls-cert-file");
    assertThat(MetricsSecurity.of(Security.none(), false, false)).isEqualTo(MetricsSecurity.none());
  }
}
