package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.server.grpc.GrpcServer;
import dev.fulcrum.server.grpc.GrpcServerConfig;
import dev.fulcrum.server.grpc.proto.GRPCInferenceServiceGrpc;
import dev.fulcrum.server.grpc.proto.ServerLiveRequest;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Security;
import dev.fulcrum.server.security.Tls;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS on the REST and gRPC ports, with the test CA in src/test/resources/tls (made by its {@code
 * make-certs.sh}): round trips over HTTP/1.1, HTTP/2 (ALPN h2) and gRPC, and mutual TLS refusing a
 * client without a certificate.
 */
class TlsTest {
  @TempDir static Path repo;
  private static InferenceService service;
  private static HttpServer https;
  private static GrpcServer grpcs;
  private static HttpServer mtlsHttp;
  private static GrpcServer mtlsGrpc;

  static Path tls(String name) {
    try {
      return Path.of(TlsTest.class.getResource("/tls/" + name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  @BeforeAll
  static void start() throws Exception {
    service = TestModels.service(repo);
    Security tls =
        new Security(
            AccessPolicy.open(),
            Optional.of(new Tls(tls("server.pem"), tls("server.key"), Optional.empty())));
    Security mtls =
        new Security(
            AccessPolicy.open(),
            Optional.of(new Tls(tls("server.pem"), tls("server.key"), Optional.of(tls("ca.pem")))));
    https = new HttpServer(service, HttpServerConfig.ephemeral().withSecurity(tls)).start();
    grpcs = new GrpcServer(service, GrpcServerConfig.ephemeral().withSecurity(tls)).start();
    mtlsHttp = new HttpServer(service, HttpServerConfig.ephemeral().withSecurity(mtls)).start();
    mtlsGrpc = new GrpcServer(service, GrpcServerConfig.ephemeral().withSecurity(mtls)).start();
  }

  @AfterAll
  static void stop() {
    mtlsGrpc.close();
    mtlsHttp.close();
    grpcs.close();
    https.close();
    service.repository().close();
  }

  /** An SSLContext that trusts the test CA, and has no client certificate. */
  static SSLContext trustingTestCa() throws Exception {
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    try (InputStream in = Files.newInputStream(tls("ca.pem"))) {
      trust.setCertificateEntry(
          "ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }

  private static HttpResponse<String> get(HttpClient.Version version, int port, String path)
      throws Exception {
    try (HttpClient client =
        HttpClient.newBuilder().version(version).sslContext(trustingTestCa()).build()) {
      return client.send(
          HttpRequest.newBuilder(URI.create("https://localhost:" + port + path))
              .timeout(Duration.ofSeconds(30))
              .build(),
          HttpResponse.BodyHandlers.ofString());
    }
  }

  @Test
  void aKeyThatIsNotTheCertificatesOrNotPkcs8IsRefusedAtOnce(@TempDir Path dir) throws Exception {
    // Another key (the client's): the server would start and fail every handshake.
    assertThatThrownBy(() -> new Tls(tls("server.pem"), tls("client.key"), Optional.empty()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("is not the private key of the certificate")
        .hasMessageContaining("client.key");
    Path sec1 = dir.resolve("sec1.key");
    Files.writeString(
        sec1, Files.readString(tls("server.key")).replace("PRIVATE KEY", "EC PRIVATE KEY"));
    assertThatThrownBy(() -> new Tls(tls("server.pem"), sec1, Optional.empty()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("PKCS#8", "openssl pkcs8 -topk8 -nocrypt");
    // A client CA file without a certificate: refused here, not as Netty's stack trace when the
    // REST port starts.
    for (String junk : List.of("", "not a certificate\n")) {
      Path ca = Files.writeString(dir.resolve("ca.pem"), junk);
      assertThatThrownBy(() -> new Tls(tls("server.pem"), tls("server.key"), Optional.of(ca)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("--tls-client-ca-file " + ca + " holds no");
    }
    assertThatThrownBy(() -> new Tls(tls("server.key"), tls("server.key"), Optional.empty()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--tls-cert-file");
  }

  @Test
  void restOverHttp11() throws Exception {
    HttpResponse<String> r = get(HttpClient.Version.HTTP_1_1, https.port(), "/v2");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
    assertThat(r.body()).contains("\"name\"");
  }

  @Test
  void restOverHttp2ByAlpn() throws Exception {
    HttpResponse<String> r = get(HttpClient.Version.HTTP_2, https.port(), "/v2/health/ready");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
  }

  @Test
  void aBusyHttp2ConnectionByAlpnIsNotClosedByTheHeaderTimeout() throws Exception {
    Duration shortTimeout = Duration.ofSeconds(2);
    Security tls =
        new Security(
            AccessPolicy.open(),
            Optional.of(new Tls(tls("server.pem"), tls("server.key"), Optional.empty())));
    HttpServer server =
        new HttpServer(
                service,
                HttpServerConfig.ephemeral()
                    .withSecurity(tls)
                    .withLimits(
                        HttpServerConfig.Limits.defaults()
                            .withTimeouts(shortTimeout, shortTimeout, shortTimeout)))
            .start();
    SslContext alpnH2 =
        SslContextBuilder.forClient()
            .trustManager(tls("ca.pem").toFile())
            .applicationProtocolConfig(
                new ApplicationProtocolConfig(
                    ApplicationProtocolConfig.Protocol.ALPN,
                    ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                    ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                    ApplicationProtocolNames.HTTP_2))
            .build();
    try (H2cTest.H2Client c = new H2cTest.H2Client(server.port(), alpnH2)) {
      // A request every 0.4 s for more than twice the timeouts, on one connection. The timeouts
      // saw only bytes on an h2 connection and kept it in its head phase, so the header timeout
      // closed it 2 s after its start however busy it was.
      c.keepBusy(5_000);
      // Idle now: closed as idle, with a GOAWAY (NO_ERROR) first.
      Await.until("the idle connection is closed", c::closed);
      assertThat(c.goAway.getNow(-1L)).isEqualTo(0L);
    } finally {
      server.close();
    }
  }

  @Test
  void grpcWithTheCa() throws Exception {
    ManagedChannel channel =
        NettyChannelBuilder.forAddress("localhost", grpcs.port())
            .sslContext(GrpcSslContexts.forClient().trustManager(tls("ca.pem").toFile()).build())
            .build();
    try {
      assertThat(
              GRPCInferenceServiceGrpc.newBlockingStub(channel)
                  .withDeadlineAfter(30, TimeUnit.SECONDS)
                  .serverLive(ServerLiveRequest.getDefaultInstance())
                  .getLive())
          .isTrue();
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void mutualTlsRefusesAClientWithoutACertificate() {
    assertThatThrownBy(() -> get(HttpClient.Version.HTTP_1_1, mtlsHttp.port(), "/v2"))
        .isInstanceOf(IOException.class);
    ManagedChannel channel = grpcChannel(mtlsGrpc.port(), false);
    try {
      assertThatThrownBy(
              () ->
                  GRPCInferenceServiceGrpc.newBlockingStub(channel)
                      .withDeadlineAfter(30, TimeUnit.SECONDS)
                      .serverLive(ServerLiveRequest.getDefaultInstance()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void mutualTlsAcceptsAClientCertificateFromTheCa() {
    ManagedChannel channel = grpcChannel(mtlsGrpc.port(), true);
    try {
      assertThat(
              GRPCInferenceServiceGrpc.newBlockingStub(channel)
                  .withDeadlineAfter(30, TimeUnit.SECONDS)
                  .serverLive(ServerLiveRequest.getDefaultInstance())
                  .getLive())
          .isTrue();
    } finally {
      channel.shutdownNow();
    }
  }

  private static ManagedChannel grpcChannel(int port, boolean clientCertificate) {
    try {
      SslContextBuilder b = GrpcSslContexts.forClient().trustManager(tls("ca.pem").toFile());
      if (clientCertificate) {
        b.keyManager(tls("client.pem").toFile(), tls("client.key").toFile());
      }
      return NettyChannelBuilder.forAddress("localhost", port).sslContext(b.build()).build();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
