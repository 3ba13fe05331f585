package dev.fulcrum.tools;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Usage errors through the command line main builds: the reason, a suggestion for a mistyped
 * option, and where the options are, not the whole usage (serve's is a few hundred lines).
 */
class UsageErrorTest {
  @Test
  void aMistypedOptionGetsTheClosestOnesAndNoUsage() {
    CliRun r = CliRun.of("serve", "--port", "27850");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err())
        .startsWith("Unknown option: '--port'; did you mean --http-port? (or --grpc-port,")
        .contains("Run 'fulcrum serve --help' for its options.")
        .doesNotContain("Usage:");
    assertThat(r.err().lines().count()).isEqualTo(2);

    assertThat(CliRun.of("serve", "--http-prot=27850").err())
        .startsWith("Unknown option: '--http-prot=27850'; did you mean --http-port?");
    assertThat(CliRun.of("bench", "-m", "m", "--zzzzzz").err())
        .startsWith("Unknown option: '--zzzzzz'\n")
        .contains("Run 'fulcrum bench --help' for its options.");
  }

  @Test
  void aMistypedCommandKeepsPicocliSuggestion() {
    CliRun r = CliRun.of("serv");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("Did you mean: fulcrum serve").doesNotContain("Usage:");
  }

  @Test
  void aDurationWithoutUnitSaysTheFormat() {
    CliRun r = CliRun.of("bench", "-m", "fraud_classifier", "--window", "5");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err())
        .contains("--window")
        .contains("'5' is not a duration: give a number and a unit, such as 500ms, 5s or 1m")
        .doesNotContain("Exception");
  }

  @Test
  void aCommandsOwnCheckNamesItsHelp() {
    CliRun r = CliRun.of("bench", "-m", "fraud_classifier", "--window", "0s");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err())
        .isEqualTo(
            "--window must be longer than 0, was PT0S\n"
                + "Run 'fulcrum bench --help' for its options.\n");
  }

  @Test
  void everyCommandsVersionOptionPrintsTheVersion() {
    // serve, bench, ... list -V, --version in their help, yet printed nothing and exited 0.
    for (String command :
        List.of("serve", "bench", "tune", "profile", "skew-check", "embed", "predict")) {
      CliRun r = CliRun.of(command, "--version");
      assertThat(r.code()).as(command).isZero();
      assertThat(r.out()).as(command).startsWith("fulcrum ");
    }
    assertThat(CliRun.of("--version").out()).startsWith("fulcrum ");
  }

  @Test
  void aShortenedOptionGetsTheFullName() {
    assertThat(CliRun.of("serve", "--model-repo", "/tmp").err())
        .startsWith("Unknown option: '--model-repo'; did you mean --model-repository?");
  }

  @Test
  void aBenchUrlWithoutSchemeIsAUsageErrorNotAStackTrace() {
    // "nonsense" reached the HTTP client: IllegalArgumentException, 19 lines of stack.
    CliRun r = CliRun.of("bench", "-m", "fraud_classifier", "--url", "nonsense");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err())
        .startsWith("--url must be an http:// or https:// URL with a host")
        .contains("was 'nonsense'")
        .doesNotContain("Exception");
  }
}
