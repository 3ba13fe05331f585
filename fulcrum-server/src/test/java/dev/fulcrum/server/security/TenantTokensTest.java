package dev.fulcrum.server.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tenant.TenantLimits;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The token file's {@code tenant=} and limits, and the tenant each allowed decision names. */
class TenantTokensTest {
  private static final String A = "aaaaaaaaaaaaaaaaaaaaaaaa";
  private static final String B = "bbbbbbbbbbbbbbbbbbbbbbbb";
  private static final String C = "cccccccccccccccccccccccc";

  @TempDir Path dir;

  private Path file(String text) throws Exception {
    Path f = dir.resolve("tokens");
    Files.writeString(f, text);
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
    return f;
  }

  @Test
  void readsTenantsAndLimitsAndKeepsLinesWithoutThem() throws Exception {
    Path f =
        file(
            "inference "
                + A
                + " tenant=fraud-online\n"
                + "inference "
                + B
                + " tenant=backfill rate=50 burst=100 concurrency=8\n"
                + "management "
                + C
                + "\n");
    List<AccessPolicy.Token> t = Tokens.load(f, Map.of());
    assertThat(t).extracting(AccessPolicy.Token::tenant).startsWith("fraud-online", "backfill");
    assertThat(t.get(0).limits()).isEqualTo(TenantLimits.NONE);
    assertThat(t.get(1).limits()).isEqualTo(new TenantLimits(50, 100, 8));
    // A line without tenant=: a short stable label, neither the token nor its whole hash.
    String derived = t.get(2).tenant();
    assertThat(derived).matches("token-[0-9a-f]{8}").doesNotContain(C);
    assertThat(derived).isEqualTo(AccessPolicy.Token.derivedTenant(C));
    assertThat(Tenant.checkName(derived)).isNull();
  }

  @Test
  void namesTheFileAndLineOfABadTenantOrLimit() throws Exception {
    List<String[]> cases =
        List.of(
            new String[] {"inference " + A + " tenant=a b", "expected options"},
            new String[] {"inference " + A + " tenant=bad\"name", "tenant name"},
            new String[] {"inference " + A + " tenant=anonymous", "'anonymous' is kept"},
            new String[] {"inference " + A + " team=x", "unknown option 'team'"},
            new String[] {"inference " + A + " rate=0", "rate must be a number > 0"},
            new String[] {"inference " + A + " rate=fast", "rate must be a number > 0"},
            new String[] {"inference " + A + " burst=10", "burst=10 needs a rate"},
            new String[] {"inference " + A + " concurrency=1.5", "concurrency must be a whole"},
            new String[] {"inference " + A + " tenant=x tenant=y", "'tenant' is given twice"},
            new String[] {"inference " + A + " tenant=", "expected options"});
    for (String[] c : cases) {
      Path f = file("# tenants\n" + c[0] + "\n");
      assertThatThrownBy(() -> Tokens.load(f, Map.of()))
          .as(c[0])
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(f + " line 2")
          .hasMessageContaining(c[1])
          .hasMessageNotContaining(A);
    }
  }

  @Test
  void aTenantsLimitsAreGivenOnceOrTheSame() throws Exception {
    Path same =
        file(
            "inference "
                + A
                + " tenant=t rate=5\ninference "
                + B
                + " tenant=t rate=5\ninference "
                + C
                + " tenant=t\n");
    assertThat(Tokens.load(same, Map.of())).hasSize(3);
    Path other = file("inference " + A + " tenant=t rate=5\ninference " + B + " tenant=t rate=6\n");
    assertThatThrownBy(() -> Tokens.load(other, Map.of()))
        .hasMessageContaining(other + " line 2")
        .hasMessageContaining("other limits");
  }

  @Test
  void eachAllowedDecisionNamesItsTokensTenantOneInstancePerName() {
    AccessPolicy p =
        new AccessPolicy(
            List.of(
                new AccessPolicy.Token(Scope.INFERENCE, A, "team", TenantLimits.NONE),
                new AccessPolicy.Token(Scope.INFERENCE, B, "team", new TenantLimits(0, 0, 3)),
                new AccessPolicy.Token(Scope.MANAGEMENT, C)),
            "127.0.0.1",
            false);
    Tenant a = p.check(Scope.INFERENCE, "Bearer " + A).tenant();
    Tenant b = p.check(Scope.INFERENCE, "Bearer " + B).tenant();
    assertThat(a).isNotNull().isSameAs(b);
    assertThat(a.limits().maxConcurrent()).isEqualTo(3);
    assertThat(p.check(Scope.MANAGEMENT, "Bearer " + C).tenant().name())
        .isEqualTo(AccessPolicy.Token.derivedTenant(C));
    assertThat(p.check(Scope.INFERENCE, "Bearer nope").tenant()).isNull();
    assertThat(p.check(null, null).tenant()).isNull();
    assertThat(p.tenants())
        .extracting(Tenant::name)
        .containsExactly("team", AccessPolicy.Token.derivedTenant(C), Tenant.ANONYMOUS);
  }

  @Test
  void anOpenInferenceEndpointChargesTheAnonymousTenantOrAKnownToken() {
    AccessPolicy p =
        new AccessPolicy(
            List.of(new AccessPolicy.Token(Scope.MANAGEMENT, C, "ops", TenantLimits.NONE)),
            "127.0.0.1",
            false);
    assertThat(p.check(Scope.INFERENCE, null).tenant().name()).isEqualTo(Tenant.ANONYMOUS);
    assertThat(p.check(Scope.INFERENCE, "Bearer unknown-token").tenant().name())
        .isEqualTo(Tenant.ANONYMOUS);
    assertThat(p.check(Scope.INFERENCE, "Bearer " + C).tenant().name()).isEqualTo("ops");
  }

  @Test
  void aServerWithoutTokensHasNoTenants() {
    AccessPolicy p = AccessPolicy.open();
    assertThat(p.tenants()).isEmpty();
    assertThat(p.check(Scope.INFERENCE, null).tenant()).isNull();
    assertThat(p.check(Scope.INFERENCE, "Bearer " + A).tenant()).isNull();
  }
}
