package dev.fulcrum.tools.tune;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The progress bar's lines. */
class ProgressTest {
  private static final Objective NONE = new Objective(null, null, 0);
  private static final Knobs K = new Knobs(2, 500, 1, 1, false);

  private static Trial ok() {
    return NONE.judge(K, List.of(new LevelPoint("c=1", 1234, 1, 2.5, 100, 0, 100)));
  }

  @Test
  void aTrialThatFailedToLoadShowsTheServersReasonNotZeroPerSecond() {
    Trial refused =
        NONE.judge(K, List.of(LevelPoint.failed("failed to load 'm': 'x' has shape [2, 3]")));
    String line = Progress.line(refused, 1, 4, Duration.ofSeconds(3));
    assertThat(line)
        .endsWith("| b=2 d=500us i=1 t=1: failed: failed to load 'm': 'x' has shape [2, 3]")
        .doesNotContain("0/s")
        .doesNotContain("constraints");
    assertThat(Progress.line(ok(), 1, 4, Duration.ofSeconds(3)))
        .endsWith("| b=2 d=500us i=1 t=1: 1234/s p99 2.50 ms");
    Trial failing = NONE.judge(K, List.of(new LevelPoint("c=4", 300, 1, 2, 300, 300, 300)));
    assertThat(Progress.line(failing, 1, 4, Duration.ofSeconds(3)))
        .endsWith(": 300/s p99 2.00 ms (50.0 % of requests failed at c=4, 300 of 600)");
  }

  @Test
  void onATerminalTheBarsLineEndsOnce() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    Progress p = new Progress(err, true, () -> 0L);
    p.trialDone(ok(), 1, 2);
    p.trialDone(ok(), 2, 2); // the plan's last trial ends the line
    p.finish();
    String all = bytes.toString(StandardCharsets.UTF_8);
    assertThat(all.chars().filter(c -> c == '\n').count()).isEqualTo(1);
    assertThat(all).endsWith("\u001b[K\n");

    bytes.reset();
    Progress early = new Progress(err, true, () -> 0L);
    early.trialDone(ok(), 1, 5); // converged before its plan: finish ends the line
    early.finish();
    early.finish();
    assertThat(bytes.toString(StandardCharsets.UTF_8).chars().filter(c -> c == '\n').count())
        .isEqualTo(1);
  }
}
