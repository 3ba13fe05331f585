package dev.fulcrum.server.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokensTest {
  @TempDir Path dir;

  private Path file(String text, String perms) throws Exception {
    Path f = dir.resolve("tokens");
    Files.writeString(f, text);
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(perms));
    return f;
  }

  @Test
  void readsScopesAndTokensSkippingCommentsAndTheEnvironment() throws Exception {
    Path f =
        file(
            "# tokens\n\ninference aaaaaaaaaaaaaaaaaaaa\n  MANAGEMENT bbbbbbbbbbbbbbbbbbbb  \n",
            "rw-------");
    List<AccessPolicy.Token> t =
        Tokens.load(f, Map.of(Tokens.INFERENCE_ENV, "cccccccccccccccccccc"));
    assertThat(t)
        .extracting(AccessPolicy.Token::scope)
        .containsExactly(Scope.INFERENCE, Scope.MANAGEMENT, Scope.INFERENCE);
    assertThat(t.get(1).token()).isEqualTo("bbbbbbbbbbbbbbbbbbbb");
    assertThat(t.get(0).toString()).doesNotContain("aaaa");
  }

  @Test
  void namesTheFileAndLineOfAMalformedEntry() throws Exception {
    Path f = file("inference aaaaaaaaaaaaaaaaaaaa\nadmin bbbbbbbbbbbbbbbbbbbb\n", "rw-------");
    assertThatThrownBy(() -> Tokens.load(f, Map.of()))
        .hasMessageContaining(f + " line 2")
        .hasMessageContaining("'admin'");
    Path g = file("inference\n", "rw-------");
    assertThatThrownBy(() -> Tokens.load(g, Map.of())).hasMessageContaining("line 1");
  }

  @Test
  void refusesAFileWithNoTokenOrAFolder() throws Exception {
    // An empty file (a secret not mounted) started a server open to every request.
    for (String empty : List.of("", "\n# nothing yet\n")) {
      Path f = file(empty, "rw-------");
      assertThatThrownBy(() -> Tokens.load(f, Map.of()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(f + " holds no token");
    }
    assertThatThrownBy(() -> Tokens.load(dir, Map.of())).hasMessageContaining("is a folder");
  }

  @Test
  void refusesAFileOthersMayRead() throws Exception {
    Path f = file("inference aaaaaaaaaaaaaaaaaaaa\n", "rw-r--r--");
    assertThatThrownBy(() -> Tokens.load(f, Map.of()))
        .hasMessageContaining("readable by others")
        .hasMessageContaining("chmod 600");
  }

  @Test
  void refusesOneTokenWithBothScopes() {
    assertThatThrownBy(
            () ->
                Tokens.load(
                    null,
                    Map.of(
                        Tokens.INFERENCE_ENV, "same-token-0123456789",
                        Tokens.MANAGEMENT_ENV, "same-token-0123456789")))
        .hasMessageContaining("both scopes");
  }

  @Test
  void policyDecisions() {
    AccessPolicy p =
        new AccessPolicy(
            List.of(new AccessPolicy.Token(Scope.MANAGEMENT, "m-0123456789abcdef")),
            "0.0.0.0",
            true);
    // Only a management token: inference stays open, management needs it.
    assertThat(p.check(Scope.INFERENCE, null).allowed()).isTrue();
    assertThat(p.check(Scope.MANAGEMENT, null).outcome())
        .isEqualTo(AccessPolicy.Outcome.UNAUTHENTICATED);
    assertThat(p.check(Scope.MANAGEMENT, "bearer m-0123456789abcdef").allowed()).isTrue();
    assertThat(p.check(Scope.MANAGEMENT, "Basic m-0123456789abcdef").outcome())
        .isEqualTo(AccessPolicy.Outcome.UNAUTHENTICATED);
    assertThat(p.check(null, null).allowed()).isTrue();
    AccessPolicy open = AccessPolicy.open();
    assertThat(open.check(Scope.MANAGEMENT, null).allowed()).isTrue();
    assertThat(open.check(Scope.INFERENCE, "Bearer anything").allowed()).isTrue();
  }

  @Test
  void allowsAllOnlyWhereNoCheckCanRefuse() {
    // allowsAll lets the transport skip the check: true only where every check allows.
    AccessPolicy open = AccessPolicy.open();
    assertThat(open.allowsAll()).isTrue();
    for (Scope s : new Scope[] {null, Scope.INFERENCE, Scope.MANAGEMENT}) {
      assertThat(open.check(s, null).allowed()).isTrue();
      assertThat(open.check(s, "Bearer wrong").allowed()).isTrue();
    }
    // No token but reachable from other machines: the repository API is refused.
    AccessPolicy wide = new AccessPolicy(List.of(), "0.0.0.0", true);
    assertThat(wide.allowsAll()).isFalse();
    assertThat(wide.check(Scope.MANAGEMENT, null).allowed()).isFalse();
    AccessPolicy tokens =
        new AccessPolicy(
            List.of(new AccessPolicy.Token(Scope.INFERENCE, "i-0123456789abcdef")),
            "127.0.0.1",
            false);
    assertThat(tokens.allowsAll()).isFalse();
    assertThat(tokens.check(Scope.INFERENCE, null).allowed()).isFalse();
  }

  @Test
  void loopbackOrNot() {
    assertThat(Security.beyondLoopback("127.0.0.1")).isFalse();
    assertThat(Security.beyondLoopback("::1")).isFalse();
    assertThat(Security.beyondLoopback("localhost")).isFalse();
    assertThat(Security.beyondLoopback("0.0.0.0")).isTrue();
  }
}
