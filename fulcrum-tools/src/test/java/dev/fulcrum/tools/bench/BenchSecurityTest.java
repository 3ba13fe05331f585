package dev.fulcrum.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fulcrum.server.codec.Json;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import dev.fulcrum.server.security.Security;
import dev.fulcrum.server.security.Tls;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fulcrum bench} against a server that asks for a bearer token and speaks TLS on both ports
 * (the server tests' CA, whose server certificate names localhost and 127.0.0.1).
 */
class BenchSecurityTest {
  private static final Path TLS = Path.of("../fulcrum-server/src/test/resources/tls");
  private static final String TOKEN = "bench-token-0123";
  @AutoClose private static BenchServer server;

  @TempDir static Path tmp;

  @BeforeAll
  static void startServer() throws Exception {
    Security security =
        new Security(
            new AccessPolicy(
                List.of(new AccessPolicy.Token(Scope.INFERENCE, TOKEN)), "127.0.0.1", false),
            Optional.of(
                new Tls(TLS.resolve("server.pem"), TLS.resolve("server.key"), Optional.empty())));
    server = BenchServer.start(tmp, security);
  }

  private static BenchRun bench(List<String> args) {
    return BenchRun.of(args.toArray(String[]::new));
  }

  private static List<String> args(String protocol, Path json, String... more) {
    List<String> a =
        new ArrayList<>(
            List.of(
                "--model", "fraud_classifier",
                "--url", "https://localhost:" + server.http.port(),
                "--grpc-url", "localhost:" + server.grpc.port(),
                "--protocol", protocol,
                "--concurrency", "2",
                "--warmup", "200ms",
                "--window", "500ms",
                "--max-windows", "3",
                "--output", json.toString()));
    a.addAll(List.of(more));
    return a;
  }

  private static void assertNoErrors(BenchRun r, Path json) throws Exception {
    assertThat(r.exit()).as(r.err()).isZero();
    JsonNode row = Json.MAPPER.readTree(json.toFile()).get(0);
    assertThat(row.get("ok_total").asLong()).isPositive();
    assertThat(row.get("errors_total").asLong()).isZero();
  }

  @Test
  void restWithTokenAndTheCa() throws Exception {
    Path json = tmp.resolve("rest.json");
    BenchRun r =
        bench(
            args(
                "rest-binary",
                json,
                "--token",
                TOKEN,
                "--tls-ca",
                TLS.resolve("ca.pem").toString()));
    assertNoErrors(r, json);
  }

  @Test
  void grpcWithTokenTrustingAnyCertificate() throws Exception {
    Path json = tmp.resolve("grpc.json");
    BenchRun r = bench(args("grpc", json, "--token", TOKEN, "--tls-insecure"));
    assertNoErrors(r, json);
  }

  @Test
  void withoutTheTokenTheServerSays401() {
    BenchRun r =
        bench(
            args(
                "rest-json",
                tmp.resolve("none.json"),
                "--tls-ca",
                TLS.resolve("ca.pem").toString()));
    assertThat(r.exit()).isNotZero();
    assertThat(r.err()).contains("401").contains("needs a token");
  }

  @Test
  void caAndInsecureTogetherIsAUsageError() {
    BenchRun r =
        bench(
            args(
                "rest-json",
                tmp.resolve("both.json"),
                "--tls-ca",
                TLS.resolve("ca.pem").toString(),
                "--tls-insecure"));
    assertThat(r.exit()).isEqualTo(2); // picocli's usage error, before any connection
  }
}
