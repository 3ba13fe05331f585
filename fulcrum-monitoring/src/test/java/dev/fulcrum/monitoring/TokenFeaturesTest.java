package dev.fulcrum.monitoring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Generated token-id streams with fixed seeds, through {@link TokenFeatures} and the tabular
 * detectors: in-distribution traffic raises nothing; long sentences, many unknown tokens and a
 * padding change each raise the derived feature that describes them.
 */
class TokenFeaturesTest {
  private static final int BATCH = 8;

  /** Text-ish traffic: sentence length, unknown-token probability, fixed padding (0: batch max). */
  private record Traffic(double meanLen, double unkP, int padTo) {}

  private static final Traffic NORMAL = new Traffic(14, 0.01, 0);

  /** One batch's derived rows. */
  private static double[][] batch(Random r, Traffic t) {
    int[] lens = new int[BATCH];
    int max = 0;
    for (int b = 0; b < BATCH; b++) {
      lens[b] = (int) Math.max(3, Math.min(250, Math.round(t.meanLen + 4 * r.nextGaussian())));
      max = Math.max(max, lens[b]);
    }
    int seq = t.padTo > 0 ? Math.max(t.padTo, max) : max;
    double[] ids = new double[BATCH * seq];
    double[] mask = new double[BATCH * seq];
    for (int b = 0; b < BATCH; b++) {
      for (int i = 0; i < lens[b]; i++) {
        ids[b * seq + i] =
            r.nextDouble() < t.unkP ? TokenFeatures.DEFAULT_UNK_ID : 1000 + r.nextInt(29000);
        mask[b * seq + i] = 1;
      }
    }
    return TokenFeatures.inputs(ids, mask, BATCH, seq, TokenFeatures.DEFAULT_UNK_ID);
  }

  private static Baseline baseline(long seed) {
    Random r = new Random(seed);
    List<double[]> rows = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      rows.addAll(List.of(batch(r, NORMAL)));
    }
    List<Baseline.FeatureBaseline> features = new ArrayList<>();
    for (int c = 0; c < TokenFeatures.INPUT_NAMES.size(); c++) {
      double[] col = new double[rows.size()];
      for (int i = 0; i < col.length; i++) {
        col[i] = rows.get(i)[c];
      }
      features.add(Profiler.profile(TokenFeatures.INPUT_NAMES.get(c), col));
    }
    return new Baseline(
        "m",
        "generated",
        rows.size(),
        List.of(new Baseline.InputColumns("tokens", TokenFeatures.INPUT_NAMES)),
        features,
        List.of());
  }

  /** Feeds {@code batches} batches of {@code t}; returns the names of the drifting features. */
  private static List<String> drifting(Traffic t, int batches, long seed) {
    Baseline b = baseline(11);
    VersionMonitor m = Streams.monitor(b);
    Random r = new Random(seed);
    long sent = 0;
    for (int i = 0; i < batches; i++) {
      for (double[] row : batch(r, t)) {
        sent++;
        m.observe(
            new Observation(
                null,
                "m",
                "1",
                "",
                sent,
                0,
                List.of(new Observation.Values("tokens", new long[] {1, row.length}, row)),
                List.of()),
            (v, f, output) -> {});
      }
    }
    return m.report(0).features().stream()
        .filter(FeatureDrift::drift)
        .map(FeatureDrift::name)
        .toList();
  }

  @Test
  void inDistributionRaisesNothing() {
    for (long seed = 1; seed <= 3; seed++) {
      assertEquals(List.of(), drifting(NORMAL, 400, seed), "seed " + seed);
    }
  }

  @Test
  void longSentencesRaiseSequenceLength() {
    assertTrue(drifting(new Traffic(40, 0.01, 0), 200, 5).contains("seq_len"));
  }

  @Test
  void unknownTokensRaiseUnkRateOnly() {
    assertEquals(List.of("unk_rate"), drifting(new Traffic(14, 0.2, 0), 200, 6));
  }

  @Test
  void fixedPaddingRaisesPaddingShareNotLength() {
    List<String> d = drifting(new Traffic(14, 0.01, 128), 200, 7);
    assertTrue(d.contains("padding_share"), d.toString());
    assertFalse(d.contains("seq_len"), d.toString());
  }

  @Test
  void inputsCountMaskAndUnknowns() {
    double[] ids = {101, 100, 2000, 102, 101, 3000, 0, 0};
    double[] mask = {1, 1, 1, 1, 1, 1, 0, 0};
    double[][] rows = TokenFeatures.inputs(ids, mask, 2, 4, 100);
    assertArrayEquals(new double[] {4, 0, 0.25}, rows[0]);
    assertArrayEquals(new double[] {2, 0.5, 0}, rows[1]);
  }

  @Test
  void outputsMeanPoolOverTheMask() {
    // one row, seq 3 (last is padding), dim 2: pooled (2, 0) -> norm 2, mean 1
    double[] hidden = {1, 0, 3, 0, 100, 100};
    double[][] rows = TokenFeatures.outputs(hidden, new double[] {1, 1, 0}, 1, 3, 2);
    assertArrayEquals(new double[] {2, 1}, rows[0], 1e-12);
    // a pipeline's pooled vector as is
    rows = TokenFeatures.outputs(new double[] {0.6, 0.8}, new double[0], 1, 0, 2);
    assertArrayEquals(new double[] {1, 0.7}, rows[0], 1e-12);
  }
}
