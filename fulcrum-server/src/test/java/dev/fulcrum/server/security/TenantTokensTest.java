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
    // A line without tenant=: named after where it is, nothing of the secret.
    assertThat(t.get(2).tenant()).isEqualTo("line-3");
    assertThat(Tenant.checkName("line-3")).isNull();
  }

  @Test
  void tenantsAreOptInPlainLinesOnlyGiveNoTenantAndNoAccounting() throws Exception {
    Path f = file("inference " + A + "\nmanagement " + C + "\n");
    List<AccessPolicy.Token> t = Tokens.load(f, Map.of(Tokens.INFERENCE_ENV, B));
    assertThat(t).extracting(AccessPolicy.Token::tenant).containsOnlyNulls();
    AccessPolicy p = new AccessPolicy(t, "127.0.0.1", false);
    assertThat(p.tenants()).isEmpty();
    assertThat(p.check(Scope.INFERENCE, "Bearer " + A).allowed()).isTrue();
    assertThat(p.check(Scope.INFERENCE, "Bearer " + A).tenant()).isNull();
    assertThat(p.check(Scope.INFERENCE, "Bearer " + B).tenant()).isNull();
    assertThat(p.check(Scope.MANAGEMENT, "Bearer " + C).tenant()).isNull();
    // Management tokens only: open inference names no (anonymous) tenant either.
    AccessPolicy ops =
        new AccessPolicy(Tokens.load(file("management " + C + "\n"), Map.of()), "127.0.0.1", false);
    assertThat(ops.tenants()).isEmpty();
    assertThat(ops.check(Scope.INFERENCE, null).tenant()).isNull();
  }

  @Test
  void oneLineWithATenantOrALimitTurnsTenantsOnAndTheOthersAreNamedAfterTheirSource()
      throws Exception {
    // A limit without a tenant= is enough; the environment's tokens are named after their variable.
    Path f = file("# ops\ninference " + A + " rate=5\nmanagement " + C + "\n");
    List<AccessPolicy.Token> t =
        Tokens.load(f, Map.of(Tokens.INFERENCE_ENV, B, Tokens.MANAGEMENT_ENV, "m" + C));
    assertThat(t)
        .extracting(AccessPolicy.Token::tenant)
        .containsExactly("line-2", "line-3", "env-inference", "env-management");
    AccessPolicy p = new AccessPolicy(t, "127.0.0.1", false);
    assertThat(p.tenants())
        .extracting(Tenant::name)
        .containsExactly("line-2", "line-3", "env-inference", "env-management", Tenant.ANONYMOUS);
    assertThat(p.check(Scope.INFERENCE, "Bearer " + A).tenant().limits().ratePerSecond())
        .isEqualTo(5);
    for (Tenant tenant : p.tenants()) {
      assertThat(tenant.name()).doesNotContain(A.substring(0, 4)).doesNotContain("token-");
    }
  }

  @Test
  void aGivenNameThatIsAnotherLinesSourceNameIsRefused() throws Exception {
    Path f = file("inference " + A + "\ninference " + B + " tenant=line-1\n");
    assertThatThrownBy(() -> Tokens.load(f, Map.of()))
        .hasMessageContaining(f + " line 2")
        .hasMessageContaining("'line-1'")
        .hasMessageNotContaining(A);
  }

  @Test
  void aRateBelowOneRequestEveryThousandSecondsIsRefusedNamingTheFileAndLine() throws Exception {
    for (String rate : List.of("0.0009", "0.000001", "1e-12", "2e9")) {
      Path f = file("inference " + A + " tenant=t rate=" + rate + " burst=1000000\n");
      assertThatThrownBy(() -> Tokens.load(f, Map.of()))
          .as(rate)
          .hasMessageContaining(f + " line 1")
          .hasMessageContaining("rate must be a number from 0.001 to 1000000000")
          .hasMessageContaining("'" + rate + "'");
    }
    Path slow = file("inference " + A + " tenant=t rate=0.001 burst=1000000\n");
    assertThat(Tokens.load(slow, Map.of()).get(0).limits().ratePerSecond()).isEqualTo(0.001);
  }

  @Test
  void namesTheFileAndLineOfABadTenantOrLimit() throws Exception {
    List<String[]> cases =
        List.of(
            new String[] {"inference " + A + " tenant=a b", "expected options"},
            new String[] {"inference " + A + " tenant=bad\"name", "tenant name"},
            new String[] {"inference " + A + " tenant=anonymous", "'anonymous' is kept"},
            new String[] {"inference " + A + " team=x", "unknown option 'team'"},
            new String[] {"inference " + A + " rate=0", "rate must be a number from 0.001"},
            new String[] {"inference " + A + " rate=fast", "rate must be a number from 0.001"},
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
                new AccessPolicy.Token(Scope.MANAGEMENT, C, "ops", TenantLimits.NONE)),
            "127.0.0.1",
            false);
    Tenant a = p.check(Scope.INFERENCE, "Bearer " + A).tenant();
    Tenant b = p.check(Scope.INFERENCE, "Bearer " + B).tenant();
    assertThat(a).isNotNull().isSameAs(b);
    assertThat(a.limits().maxConcurrent()).isEqualTo(3);
    assertThat(p.check(Scope.MANAGEMENT, "Bearer " + C).tenant().name()).isEqualTo("ops");
    assertThat(p.check(Scope.INFERENCE, "Bearer nope").tenant()).isNull();
    assertThat(p.check(null, null).tenant()).isNull();
    assertThat(p.tenants())
        .extracting(Tenant::name)
        .containsExactly("team", "ops", Tenant.ANONYMOUS);
    // Tenants on, a token without one: a caller's mistake (Tokens names every token then).
    assertThatThrownBy(
            () ->
                new AccessPolicy(
                    List.of(
                        new AccessPolicy.Token(Scope.INFERENCE, A, "team", TenantLimits.NONE),
                        new AccessPolicy.Token(Scope.INFERENCE, B)),
                    "127.0.0.1",
                    false))
        .hasMessageContaining("names no tenant");
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
