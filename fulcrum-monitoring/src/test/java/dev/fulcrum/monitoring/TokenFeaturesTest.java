package dev.fulcrum.monitoring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fulcrum.core.config.MonitoringConfig;
import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.monitor.DriftReport.FeatureDrift;
import dev.fulcrum.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
    Raw raw = raw(r, t);
    return TokenFeatures.inputs(raw.ids, raw.mask, BATCH, raw.seq, TokenFeatures.DEFAULT_UNK_ID);
  }

  /** One request of {@link #BATCH} sentences: token ids and mask, {@code [BATCH, seq]}. */
  private record Raw(double[] ids, double[] mask, int seq) {}

  private static Raw raw(Random r, Traffic t) {
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
    return new Raw(ids, mask, seq);
  }

  private static Baseline baseline(long seed) {
    return baseline(seed, "tokens");
  }

  private static Baseline baseline(long seed, String input) {
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
        List.of(new Baseline.InputColumns(input, TokenFeatures.INPUT_NAMES)),
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

  /**
   * The wired path (monitoring.text): requests carry raw token ids and a mask; the live monitor
   * derives the features from the tensors and the prediction log's replay from the logged values,
   * and both reach the same verdict: nothing on in-distribution text, unk_rate only on text with
   * many unknown words.
   */
  @Test
  void textInputDerivesFeaturesLiveAndInReplay() {
    MonitoringConfig.TextInput text =
        new MonitoringConfig.TextInput("input_ids", "attention_mask", TokenFeatures.DEFAULT_UNK_ID);
    Baseline b = baseline(11, "input_ids");
    VersionMonitor live = Streams.monitor(b, text);
    VersionMonitor replay = Streams.monitor(b, text);
    List<String> liveEvents = new ArrayList<>();
    List<String> replayEvents = new ArrayList<>();
    Random r = new Random(21);
    for (int i = 0; i < 600; i++) {
      Raw raw = raw(r, i < 300 ? NORMAL : new Traffic(14, 0.2, 0));
      long[] shape = {BATCH, raw.seq};
      Tensor ids = Streams.int64("input_ids", shape, longs(raw.ids));
      Tensor mask = Streams.int64("attention_mask", shape, longs(raw.mask));
      Completed c =
          new Completed(
              null,
              new InferenceRequest("m", "1", "", Map.of(), List.of(ids, mask), List.of()),
              new InferenceResponse("m", "1", "", Map.of(), List.of()),
              i,
              0);
      live.observe(c, (v, f, output) -> liveEvents.add(f.name() + " " + f.drift()));
      replay.observe(
          c.observation(), (v, f, output) -> replayEvents.add(f.name() + " " + f.drift()));
      if (i == 299) {
        assertEquals(List.of(), liveEvents, "in-distribution text");
      }
    }
    assertEquals(600L * BATCH, live.observations());
    assertEquals(liveEvents, replayEvents);
    assertEquals(live.report(0), replay.report(0));
    assertEquals(
        List.of("unk_rate"),
        live.report(0).features().stream()
            .filter(FeatureDrift::drift)
            .map(FeatureDrift::name)
            .toList());
  }

  private static long[] longs(double[] v) {
    long[] out = new long[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = (long) v[i];
    }
    return out;
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
