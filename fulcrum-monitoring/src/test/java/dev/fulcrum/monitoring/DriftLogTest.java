package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The drift log of a server of many models (session 36): a version's alert changes within a second
 * are one line naming each feature as before, and a drift of every model at once logs at most
 * {@link DriftLog#MAX_VERSIONS_PER_WINDOW} versions line by line and one summary per window, not
 * one line per feature per model.
 */
class DriftLogTest {
  private static final long SECOND = 1_000_000_000L;

  private final List<String> lines = new ArrayList<>();
  private final DriftLog log =
      new DriftLog(
          new DriftLog.Sink() {
            @Override
            public void warn(String line) {
              lines.add("WARN " + line);
            }

            @Override
            public void info(String line) {
              lines.add("INFO " + line);
            }
          });

  private static FeatureDrift raised(String name, String test, double score, long since) {
    return new FeatureDrift(name, true, score, 4.0, test, Instant.EPOCH, since, List.of());
  }

  private static FeatureDrift clear(String name) {
    return new FeatureDrift(name, false, 0.5, 4.0, "cusum", null, 0, List.of());
  }

  @Test
  void oneVersionsChangesWithinTheHoldAreOneLineNamingEachFeature() {
    log.changed("fraud", "1", raised("amount_usd", "range", 4, 304), false, 0);
    log.changed("fraud", "1", raised("probabilities[1]", "cusum", 44.26, 306), true, SECOND / 2);
    log.flush(SECOND / 2, false);
    assertThat(lines).isEmpty(); // held for the rest of the event

    log.flush(SECOND, false);
    assertThat(lines)
        .containsExactly(
            "WARN drift: model fraud version 1 feature amount_usd: DRIFT (range score 4.000,"
                + " threshold 4.000) since observation 304; output probabilities[1]: DRIFT (cusum"
                + " score 44.26, threshold 4.000) since observation 306");
    assertThat(log.hasPending()).isFalse();

    // Later changes are a line of their own; a clear alone is INFO.
    log.changed("fraud", "1", clear("amount_usd"), false, 20 * SECOND);
    log.flush(21 * SECOND, false);
    assertThat(lines.get(1))
        .isEqualTo("INFO drift: model fraud version 1 feature amount_usd: ok again");
  }

  @Test
  void everyModelDriftingAtOnceLogsTenVersionsAndOneSummary() {
    for (int m = 0; m < 200; m++) {
      String model = String.format("fraud_%03d", m);
      log.changed(model, "1", raised("amount_usd", "range", 4, 104), false, m * 1_000_000L);
      log.changed(model, "1", raised("label", "cusum", 65, 110), true, m * 1_000_000L);
    }
    log.flush(2 * SECOND, false);
    assertThat(lines).hasSize(DriftLog.MAX_VERSIONS_PER_WINDOW);
    assertThat(lines.get(0)).startsWith("WARN drift: model fraud_000 version 1 feature amount_usd");
    assertThat(lines.get(0)).contains("output label: DRIFT (cusum");

    // The same models again within the window (their outputs drifting later) are counted once.
    for (int m = 150; m < 200; m++) {
      log.changed(
          String.format("fraud_%03d", m), "1", raised("x", "psi", 1, 300), false, 3 * SECOND);
    }
    // A version logged in this window goes on being logged in full.
    log.changed("fraud_003", "1", raised("probabilities[1]", "cusum", 44, 209), true, 3 * SECOND);
    log.flush(5 * SECOND, false);
    assertThat(lines).hasSize(DriftLog.MAX_VERSIONS_PER_WINDOW + 1);
    assertThat(lines.get(DriftLog.MAX_VERSIONS_PER_WINDOW))
        .startsWith("WARN drift: model fraud_003 version 1 output probabilities[1]: DRIFT (cusum");

    log.flush(12 * SECOND, false); // the window ended
    assertThat(lines).hasSize(DriftLog.MAX_VERSIONS_PER_WINDOW + 2);
    assertThat(lines.get(DriftLog.MAX_VERSIONS_PER_WINDOW + 1))
        .isEqualTo(
            "WARN drift: 190 more model versions changed in the last 10 s (raised: 190, cleared"
                + " only: 0): fraud_010 v1, fraud_011 v1, fraud_012 v1, fraud_013 v1, fraud_014 v1,"
                + " fraud_015 v1, fraud_016 v1, fraud_017 v1, fraud_018 v1, fraud_019 v1, and 180"
                + " more (see each version's /drift and fulcrum_drift_status)");
    assertThat(log.hasPending()).isFalse();

    // A new window logs versions one by one again.
    log.changed("fraud_000", "1", clear("label"), true, 30 * SECOND);
    log.flush(32 * SECOND, false);
    assertThat(lines.get(lines.size() - 1))
        .isEqualTo("INFO drift: model fraud_000 version 1 output label: ok again");
  }

  @Test
  void closingFlushesWhatIsHeldAndAnEndedVersionIsOneLine() {
    log.changed("fraud", "2", raised("amount_usd", "range", 4, 7), false, 0);
    log.flush(1, true);
    assertThat(lines).hasSize(1);
    log.ended(
        "fraud", "2", List.of("feature amount_usd", "output label"), "the version was unloaded");
    log.ended("fraud", "3", List.of(), "the version was unloaded");
    assertThat(lines)
        .last()
        .isEqualTo(
            "INFO drift: model fraud version 2 feature amount_usd, output label: alert ended (the"
                + " version was unloaded)");
    assertThat(lines).hasSize(2);
  }
}
