package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.monitor.DriftReport;
import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The prediction log writes an infinite value as a number beyond a double ({@code 1e999}, valid
 * JSON), which the replay reads back as infinite: out of range, as the live monitor saw it, not
 * missing (audit H: the log wrote {@code null}, and the replay raised "missing" where the live
 * monitor raised "range"). NaN stays {@code null}, missing.
 */
class PredictionLogInfinityTest {
  @TempDir Path dir;

  @Test
  void anInfiniteValueIsOutOfRangeOnReplayAsLive() throws Exception {
    double[][] training = Streams.training(4_000, 5);
    Baseline baseline = Streams.baseline(training);
    VersionMonitor live = Streams.monitor(baseline);
    List<String> liveEvents = new ArrayList<>();
    Random r = new Random(6);
    PredictionLog log = new PredictionLog(new PredictionLog.Settings(dir, 1 << 20, 4, 1.0, 4096));
    try {
      for (int q = 0; q < 400; q++) {
        double[] x = training[r.nextInt(training.length)].clone();
        if (q >= 300) {
          x[0] = q % 2 == 0 ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
        }
        if (q == 310) {
          x[1] = Double.NaN;
        }
        Completed c =
            new Completed(
                null,
                new InferenceRequest(
                    "m",
                    "1",
                    "r" + q,
                    Map.of(),
                    List.of(Streams.fp64("x", new long[] {1, x.length}, x)),
                    List.of()),
                new InferenceResponse("m", "1", "r" + q, Map.of(), List.of()),
                1_000_000 + q,
                0);
        live.observe(c, (m, f, output) -> liveEvents.add(event(f)));
        log.offer(c);
      }
      assertThat(log.awaitFlushed(Duration.ofSeconds(30))).isTrue();
    } finally {
      log.close();
    }
    List<Path> files = PredictionLog.files(dir);
    String text = Files.readString(files.get(0));
    assertThat(text).contains("[1e999,").contains("[-1e999,").contains(",null,");
    ObjectMapper strict = new ObjectMapper();
    for (String l : text.lines().toList()) { // every line still valid JSON
      JsonNode n = strict.readTree(l);
      assertThat(n.isObject()).isTrue();
    }

    List<String> replayEvents = new ArrayList<>();
    LogReplay replay =
        new LogReplay(
            baseline,
            "baseline.json",
            DetectorSettings.defaults(),
            (m, v, f, output) -> replayEvents.add(event(f)));
    replay.replay(files);

    assertThat(liveEvents).isNotEmpty().isEqualTo(replayEvents);
    DriftReport offline = replay.reports().get(0);
    assertThat(offline).isEqualTo(live.report(0));
    FeatureDrift amount = offline.features().get(0);
    assertThat(amount.name()).isEqualTo("amount");
    assertThat(amount.drift()).isTrue();
    assertThat(amount.test()).isEqualTo("range");
  }

  private static String event(FeatureDrift f) {
    return f.name() + " " + f.drift() + " " + f.test() + " " + f.sinceObservation();
  }
}
