package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

class BrowserGuardTest {
  private static final AccessPolicy OPEN = AccessPolicy.open();
  private static final AccessPolicy TOKENS =
      new AccessPolicy(
          List.of(new AccessPolicy.Token(Scope.INFERENCE, "secret-token")), "127.0.0.1", false);

  private static HttpRequest request(
      HttpMethod method, @Nullable String host, @Nullable String origin) {
    HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, "/v2/models/m/infer");
    if (host != null) {
      r.headers().set("Host", host);
    }
    if (origin != null) {
      r.headers().set("Origin", origin);
    }
    return r;
  }

  @Test
  void aCrossOriginPostIsRefusedWhateverTheTokens() {
    for (AccessPolicy access : List.of(OPEN, TOKENS)) {
      AccessPolicy.Decision d =
          BrowserGuard.check(
              access, request(HttpMethod.POST, "127.0.0.1:8000", "http://evil.example"));
      assertThat(d).isNotNull();
      assertThat(d.outcome()).isEqualTo(AccessPolicy.Outcome.FORBIDDEN);
      assertThat(d.message()).contains("cross-origin", "evil.example");
      assertThat(BrowserGuard.check(access, request(HttpMethod.POST, "127.0.0.1:8000", "null")))
          .isNotNull();
    }
  }

  @Test
  void aSameOriginPostAndRequestsWithoutOriginPass() {
    assertThat(
            BrowserGuard.check(
                OPEN, request(HttpMethod.POST, "localhost:8000", "http://localhost:8000")))
        .isNull();
    assertThat(BrowserGuard.check(OPEN, request(HttpMethod.POST, "localhost", "http://localhost")))
        .isNull();
    assertThat(
            BrowserGuard.check(OPEN, request(HttpMethod.POST, "localhost:80", "http://LOCALHOST")))
        .isNull();
    assertThat(
            BrowserGuard.check(OPEN, request(HttpMethod.POST, "[::1]:8000", "http://[::1]:8000")))
        .isNull();
    assertThat(BrowserGuard.check(OPEN, request(HttpMethod.POST, "127.0.0.1:8000", null))).isNull();
    assertThat(
            BrowserGuard.check(
                OPEN, request(HttpMethod.POST, "localhost:8000", "http://localhost:9000")))
        .isNotNull();
    assertThat(
            BrowserGuard.check(
                OPEN, request(HttpMethod.POST, "localhost:8000", "https://localhost:8000")))
        .isNull();
    // A GET's Origin is not looked at (a page cannot read the answer without CORS).
    assertThat(
            BrowserGuard.check(
                TOKENS, request(HttpMethod.GET, "127.0.0.1:8000", "http://evil.example")))
        .isNull();
  }

  @Test
  void anOpenServerAnswersOnlyLocalNamesAndAddresses() {
    for (String host :
        List.of(
            "localhost:8000",
            "LOCALHOST",
            "localhost.",
            "app.localhost:8000",
            "127.0.0.1:8000",
            "10.1.2.3",
            "[::1]:8000",
            "x",
            "my-laptop:8000")) {
      assertThat(BrowserGuard.check(OPEN, request(HttpMethod.GET, host, null))).as(host).isNull();
    }
    AccessPolicy.Decision d =
        BrowserGuard.check(OPEN, request(HttpMethod.GET, "rebind.evil.example:8000", null));
    assertThat(d).isNotNull();
    assertThat(d.message()).contains("rebind.evil.example", "DNS rebinding", "--auth-token-file");
    assertThat(BrowserGuard.check(OPEN, request(HttpMethod.GET, null, null))).isNull();
    // With tokens (or beyond loopback) the Host is not checked: the token is.
    assertThat(BrowserGuard.check(TOKENS, request(HttpMethod.GET, "rebind.evil.example", null)))
        .isNull();
    AccessPolicy named = new AccessPolicy(List.of(), "fulcrum.internal", false);
    assertThat(BrowserGuard.check(named, request(HttpMethod.GET, "fulcrum.internal:8000", null)))
        .isNull();
  }
}
