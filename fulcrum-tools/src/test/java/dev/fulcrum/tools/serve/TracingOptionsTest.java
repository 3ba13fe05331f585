package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.server.tracing.TraceSettings;
import dev.fulcrum.server.tracing.Tracing;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code serve}'s tracing flags: off by default, each mistake named by its flag. */
class TracingOptionsTest {
  private static TracingOptions parse(String... args) {
    TracingOptions o = new TracingOptions();
    new CommandLine(o).parseArgs(args);
    return o;
  }

  @Test
  void offByDefault() {
    TracingOptions o = parse();
    assertThat(o.mistake()).isNull();
    assertThat(o.start()).isNull();
  }

  @Test
  void anEndpointTracesSampledParentsOnlyUnlessARateIsGiven() {
    try (Tracing t = parse("--trace-otlp-endpoint", "http://127.0.0.1:4318").start()) {
      assertThat(t).isNotNull();
      assertThat(t.settings().get(null)).isEqualTo(new TraceSettings(true, 0, -1));
    }
    try (Tracing t =
        parse("--trace-otlp-endpoint", "http://127.0.0.1:4318", "--trace-rate", "100").start()) {
      assertThat(t.settings().get(null).rate()).isEqualTo(100);
    }
  }

  @Test
  void mistakesNameTheFlag() {
    assertThat(parse("--trace-rate", "10").mistake()).contains("need --trace-otlp-endpoint");
    assertThat(parse("--trace-otlp-endpoint", "http://c:4318", "--trace-rate", "-1").mistake())
        .contains("--trace-rate must be >= 0");
    assertThat(parse("--trace-otlp-endpoint", "http://c:4318", "--trace-count", "-2").mistake())
        .contains("--trace-count must be >= -1");
    assertThat(parse("--trace-otlp-endpoint", "localhost:4318").mistake())
        .contains("--trace-otlp-endpoint must be an http:// or https:// URL");
  }
}
