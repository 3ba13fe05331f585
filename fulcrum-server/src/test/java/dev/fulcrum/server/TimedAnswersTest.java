package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.RequestOptions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The one timing decision: the slow-request log alone times a request without pricing it; a traced
 * request is priced (its span carries the cost); a client's own request is left as it asked.
 */
class TimedAnswersTest {
  private static InferenceRequest asked(boolean timing) {
    return new InferenceRequest(
        "m", "", "id", timing ? Map.of("timing", true) : Map.of(), List.of(), List.of());
  }

  @Test
  void onlyWhatTheServerReadsIsComputed() {
    InferenceRequest plain = asked(false);
    assertThat(TimedAnswers.toRun(plain, false, false)).isSameAs(plain);

    RequestOptions slowLog = TimedAnswers.toRun(plain, true, false).options();
    assertThat(slowLog.timing()).isTrue();
    assertThat(slowLog.costUsd()).as("the slow-request log reads no cost").isFalse();

    RequestOptions traced = TimedAnswers.toRun(plain, true, true).options();
    assertThat(traced.timing()).isTrue();
    assertThat(traced.costUsd()).as("a span carries the cost").isTrue();
    assertThat(TimedAnswers.toRun(plain, false, true).options().costUsd()).isTrue();

    InferenceRequest client = asked(true);
    assertThat(TimedAnswers.toRun(client, true, false)).isSameAs(client);
    assertThat(client.options().costUsd()).as("a client's timing is priced").isTrue();
  }
}
