package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Locale;
import org.junit.jupiter.api.Test;

/** W3C traceparent, parsed once for tracing and the slow-request log. */
class TraceParentTest {
  private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
  private static final String PARENT_ID = "00f067aa0ba902b7";
  private static final String SAMPLED = "00-" + TRACE_ID + "-" + PARENT_ID + "-01";

  @Test
  void aValidTraceparentGivesItsIdsFlagsAndTheTraceStateAsSent() {
    TraceParent t = TraceParent.parse(SAMPLED, "vendor=abc");
    assertThat(t).isNotNull();
    assertThat(t.traceId()).isEqualTo(TRACE_ID);
    assertThat(t.parentId()).isEqualTo(PARENT_ID);
    assertThat(t.sampled()).isTrue();
    assertThat(t.state()).isEqualTo("vendor=abc");
    TraceParent unsampled = TraceParent.parse("00-" + TRACE_ID + "-" + PARENT_ID + "-00", null);
    assertThat(unsampled).isNotNull();
    assertThat(unsampled.sampled()).isFalse();
    assertThat(TraceParent.parse(" " + SAMPLED + " ", null)).as("trimmed").isNotNull();
  }

  @Test
  void anInvalidOneIsNone() {
    assertThat(TraceParent.parse(null, "vendor=abc")).isNull();
    assertThat(TraceParent.parse("garbage", null)).isNull();
    assertThat(TraceParent.parse(SAMPLED.toUpperCase(Locale.ROOT), null)).isNull();
    assertThat(TraceParent.parse("00-00000000000000000000000000000000-" + PARENT_ID + "-01", null))
        .as("the invalid all-zero trace id")
        .isNull();
    assertThat(TraceParent.parse("00-" + TRACE_ID + "-0000000000000000-01", null))
        .as("the invalid all-zero parent id")
        .isNull();
    assertThat(TraceParent.parse("00-" + TRACE_ID + "-" + PARENT_ID + "-zz", null))
        .as("flags not hex")
        .isNull();
    assertThat(TraceParent.parse("ff-" + TRACE_ID + "-" + PARENT_ID + "-01", null))
        .as("version ff")
        .isNull();
    assertThat(TraceParent.parse(SAMPLED + "-extra", null)).as("version 00 has 4").isNull();
    TraceParent later = TraceParent.parse("01-" + TRACE_ID + "-" + PARENT_ID + "-01-extra", null);
    assertThat(later).as("a later version may add fields").isNotNull();
    assertThat(later.traceId()).isEqualTo(TRACE_ID);
  }
}
