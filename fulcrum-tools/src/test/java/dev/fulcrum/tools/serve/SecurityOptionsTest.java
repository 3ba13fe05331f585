package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.server.security.Scope;
import dev.fulcrum.server.security.Security;
import dev.fulcrum.server.security.Tokens;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class SecurityOptionsTest {
  private static SecurityOptions parse(String... args) {
    SecurityOptions o = new SecurityOptions();
    new CommandLine(o).parseArgs(args);
    return o;
  }

  @Test
  void noFlagsOnLoopbackIsOpen() {
    Security s = parse().security("127.0.0.1", Map.of());
    assertThat(s.tls()).isEmpty();
    assertThat(s.access().check(Scope.MANAGEMENT, null).allowed()).isTrue();
    assertThat(s.access().check(Scope.INFERENCE, null).allowed()).isTrue();
  }

  @Test
  void allInterfacesWithoutAManagementTokenDisablesTheRepositoryApi() {
    Security s = parse().security("0.0.0.0", Map.of());
    assertThat(s.access().managementEnabled()).isFalse();
    assertThat(s.access().check(Scope.INFERENCE, null).allowed()).isTrue();
    Security withToken =
        parse().security("0.0.0.0", Map.of(Tokens.MANAGEMENT_ENV, "m-0123456789abcdef"));
    assertThat(withToken.access().check(Scope.MANAGEMENT, "Bearer m-0123456789abcdef").allowed())
        .isTrue();
  }

  @Test
  void tlsFlagsGoTogether() {
    assertThatThrownBy(() -> parse("--tls-cert-file", "a.pem").security("127.0.0.1", Map.of()))
        .hasMessageContaining("--tls-cert-file and --tls-key-file go together");
    assertThatThrownBy(
            () -> parse("--tls-client-ca-file", "ca.pem").security("127.0.0.1", Map.of()))
        .hasMessageContaining("--tls-client-ca-file needs --tls-cert-file");
    Path missing = Path.of("does-not-exist.pem");
    assertThatThrownBy(
            () ->
                parse("--tls-cert-file", missing.toString(), "--tls-key-file", "k.pem")
                    .security("127.0.0.1", Map.of()))
        .hasMessageContaining("--tls-cert-file does-not-exist.pem is not a readable file");
  }

  @Test
  void theSummarySaysWhoMayCallSageMakersModels() {
    Path root = Path.of("/opt/ml/models");
    assertThat(
            SecurityOptions.sageMakerModels(null, parse().security("0.0.0.0", Map.of()).access()))
        .isEqualTo("off");
    Security open = parse().security("0.0.0.0", Map.of(), root);
    assertThat(SecurityOptions.sageMakerModels(root, open.access())).isEqualTo("open");
    Security management =
        parse().security("0.0.0.0", Map.of(Tokens.MANAGEMENT_ENV, "m-0123456789abcdef"), root);
    assertThat(SecurityOptions.sageMakerModels(root, management.access()))
        .isEqualTo("management token");
    Security inference =
        parse().security("0.0.0.0", Map.of(Tokens.INFERENCE_ENV, "i-0123456789abcdef"), root);
    assertThat(SecurityOptions.sageMakerModels(root, inference.access())).isEqualTo("off");
    // and the refusal says why, for SageMaker's agent, not how to enable the repository API
    assertThat(inference.access().check(Scope.MANAGEMENT, true, null).message())
        .contains("SageMaker's /models is closed because tokens are configured");
  }
}
