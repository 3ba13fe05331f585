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

  private static final int DIM = 8;

  /**
   * A stand-in encoder's {@code [BATCH, seq, DIM]} FP32 hidden states: each real token a fixed
   * direction plus noise, times {@code scale}; padding positions hold garbage the pooling must
   * skip.
   */
  private static float[] hidden(Random r, Raw raw, double scale) {
    float[] h = new float[BATCH * raw.seq * DIM];
    for (int i = 0; i < BATCH * raw.seq; i++) {
      for (int d = 0; d < DIM; d++) {
        h[i * DIM + d] =
            raw.mask[i] == 0
                ? 1000f
                : (float) (scale * ((d % 2 == 0 ? 0.3 : -0.1) + 0.2 * r.nextGaussian()));
      }
    }
    return h;
  }

  private static Tensor fp32(String name, long[] shape, float[] v) {
    java.nio.ByteBuffer buf =
        java.nio.ByteBuffer.allocateDirect(4 * v.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < v.length; i++) {
      buf.putFloat(4 * i, v[i]);
    }
    return Tensor.of(name, dev.fulcrum.core.tensor.DataType.FP32, shape, buf);
  }

  /**
   * monitoring.text.output: the embedding output's pooled norm and mean are compared as the model's
   * outputs, live (straight from the FP32 buffer) and in the replay (from the logged values) alike:
   * nothing on in-distribution embeddings, embedding_norm on embeddings twice as long, while the
   * token features stay quiet.
   */
  @Test
  void embeddingOutputDriftsLiveAndInReplay() {
    MonitoringConfig.TextInput text =
        new MonitoringConfig.TextInput(
            "input_ids", "attention_mask", TokenFeatures.DEFAULT_UNK_ID, "last_hidden_state");
    Baseline inputsOnly = baseline(11, "input_ids");
    Random gen = new Random(12);
    double[][] outCols = new double[2][2000];
    for (int i = 0; i < 2000 / BATCH; i++) {
      Raw raw = raw(gen, NORMAL);
      float[] h = hidden(gen, raw, 1);
      double[][] rows =
          TokenFeatures.outputs(
              fp32("last_hidden_state", new long[] {BATCH, raw.seq, DIM}, h), raw.mask);
      assertTrue(rows != null);
      for (int b = 0; b < BATCH; b++) {
        outCols[0][i * BATCH + b] = rows[b][0];
        outCols[1][i * BATCH + b] = rows[b][1];
      }
    }
    Baseline b =
        Streams.withOutputs(
            inputsOnly,
            Profiler.profile("embedding_norm", outCols[0]),
            Profiler.profile("embedding_mean", outCols[1]));
    VersionMonitor live = Streams.monitor(b, text);
    VersionMonitor replay = Streams.monitor(b, text);
    List<String> liveEvents = new ArrayList<>();
    List<String> replayEvents = new ArrayList<>();
    Random r = new Random(21);
    for (int i = 0; i < 400; i++) {
      Raw raw = raw(r, NORMAL);
      long[] shape = {BATCH, raw.seq};
      Tensor ids = Streams.int64("input_ids", shape, longs(raw.ids));
      Tensor mask = Streams.int64("attention_mask", shape, longs(raw.mask));
      Tensor hidden =
          fp32(
              "last_hidden_state",
              new long[] {BATCH, raw.seq, DIM},
              hidden(r, raw, i < 200 ? 1 : 2));
      Completed c =
          new Completed(
              null,
              new InferenceRequest("m", "1", "", Map.of(), List.of(ids, mask), List.of()),
              new InferenceResponse("m", "1", "", Map.of(), List.of(hidden)),
              i,
              0);
      live.observe(c, (v, f, output) -> liveEvents.add(f.name() + " " + f.drift() + " " + output));
      replay.observe(
          c.observation(),
          (v, f, output) -> replayEvents.add(f.name() + " " + f.drift() + " " + output));
      if (i == 199) {
        assertEquals(List.of(), liveEvents, "in-distribution embeddings");
      }
    }
    assertEquals(liveEvents, replayEvents);
    assertEquals(live.report(0), replay.report(0));
    assertTrue(liveEvents.contains("embedding_norm true true"), liveEvents.toString());
    assertEquals(
        List.of(),
        live.report(0).features().stream().filter(FeatureDrift::drift).toList(),
        "the token features");
    assertEquals(
        List.of("embedding_norm", "embedding_mean"),
        live.report(0).outputs().stream().map(FeatureDrift::name).toList());
  }

  /**
   * A baseline with embedding features on a config without monitoring.text.output: they are not
   * compared (nothing to derive them from), and a hidden state whose shape does not fit the mask is
   * skipped, not misread.
   */
  @Test
  void embeddingNeedsTheOutputAndAFittingShape() {
    Baseline inputsOnly = baseline(11, "input_ids");
    Baseline b =
        Streams.withOutputs(
            inputsOnly,
            Profiler.profile("embedding_norm", new double[] {1, 2, 3}),
            Profiler.profile("embedding_mean", new double[] {0.1, 0.2, 0.3}));
    VersionMonitor without =
        Streams.monitor(
            b,
            new MonitoringConfig.TextInput(
                "input_ids", "attention_mask", TokenFeatures.DEFAULT_UNK_ID));
    assertEquals(List.of(), without.report(0).outputs());

    VersionMonitor with =
        Streams.monitor(
            b,
            new MonitoringConfig.TextInput(
                "input_ids", "attention_mask", TokenFeatures.DEFAULT_UNK_ID, "last_hidden_state"));
    Raw raw = raw(new Random(3), NORMAL);
    long[] shape = {BATCH, raw.seq};
    float[] garbage = new float[BATCH * (raw.seq + 1)];
    java.util.Arrays.fill(garbage, 1000f);
    Tensor wrong = fp32("last_hidden_state", new long[] {BATCH, raw.seq + 1, 1}, garbage);
    for (int i = 0; i < 100; i++) {
      with.observe(
          new Completed(
              null,
              new InferenceRequest(
                  "m",
                  "1",
                  "",
                  Map.of(),
                  List.of(
                      Streams.int64("input_ids", shape, longs(raw.ids)),
                      Streams.int64("attention_mask", shape, longs(raw.mask))),
                  List.of()),
              new InferenceResponse("m", "1", "", Map.of(), List.of(wrong)),
              i,
              0),
          (v, f, output) -> {});
    }
    assertEquals(100L * BATCH, with.observations());
    assertEquals(List.of(), with.report(0).outputs().stream().filter(FeatureDrift::drift).toList());
  }

  @Test
  void theBufferAndTheValuesPoolAlike() {
    Random r = new Random(5);
    Raw raw = raw(r, NORMAL);
    float[] h = hidden(r, raw, 1);
    double[] d = new double[h.length];
    for (int i = 0; i < h.length; i++) {
      d[i] = h[i];
    }
    double[][] fromBuffer =
        TokenFeatures.outputs(fp32("h", new long[] {BATCH, raw.seq, DIM}, h), raw.mask);
    double[][] fromValues = TokenFeatures.outputs(d, raw.mask, BATCH, raw.seq, DIM);
    assertTrue(fromBuffer != null);
    for (int b = 0; b < BATCH; b++) {
      assertArrayEquals(fromValues[b], fromBuffer[b], 0.0);
    }
  }

  /**
   * An already pooled {@code [batch, dim]} output (a model or pipeline that pools itself) is
   * compared as is: in-distribution vectors raise nothing, vectors three times as long raise
   * embedding_norm; the buffer and the logged values agree.
   */
  @Test
  void aPooledOutputIsComparedAsIs() {
    MonitoringConfig.TextInput text =
        new MonitoringConfig.TextInput(
            "input_ids", "attention_mask", TokenFeatures.DEFAULT_UNK_ID, "sentence_embedding");
    Baseline inputsOnly = baseline(11, "input_ids");
    Random gen = new Random(13);
    double[][] outCols = new double[2][2000];
    for (int i = 0; i < 2000; i++) {
      double[] v = new double[DIM];
      for (int d = 0; d < DIM; d++) {
        v[d] = (float) (0.3 + 0.2 * gen.nextGaussian());
      }
      double[][] rows = TokenFeatures.outputs(v, new double[0], 1, 0, DIM);
      outCols[0][i] = rows[0][0];
      outCols[1][i] = rows[0][1];
    }
    Baseline b =
        Streams.withOutputs(
            inputsOnly,
            Profiler.profile("embedding_norm", outCols[0]),
            Profiler.profile("embedding_mean", outCols[1]));
    VersionMonitor live = Streams.monitor(b, text);
    VersionMonitor replay = Streams.monitor(b, text);
    List<String> events = new ArrayList<>();
    Random r = new Random(22);
    for (int i = 0; i < 300; i++) {
      Raw raw = raw(r, NORMAL);
      long[] shape = {BATCH, raw.seq};
      float[] pooled = new float[BATCH * DIM];
      for (int k = 0; k < pooled.length; k++) {
        pooled[k] = (float) ((i < 150 ? 1 : 3) * (0.3 + 0.2 * r.nextGaussian()));
      }
      Completed c =
          new Completed(
              null,
              new InferenceRequest(
                  "m",
                  "1",
                  "",
                  Map.of(),
                  List.of(
                      Streams.int64("input_ids", shape, longs(raw.ids)),
                      Streams.int64("attention_mask", shape, longs(raw.mask))),
                  List.of()),
              new InferenceResponse(
                  "m",
                  "1",
                  "",
                  Map.of(),
                  List.of(fp32("sentence_embedding", new long[] {BATCH, DIM}, pooled))),
              i,
              0);
      live.observe(c, (v, f, output) -> events.add(f.name() + " " + f.drift()));
      replay.observe(c.observation(), (v, f, output) -> {});
      if (i == 149) {
        assertEquals(List.of(), events, "in-distribution vectors");
      }
    }
    assertTrue(events.contains("embedding_norm true"), events.toString());
    assertEquals(live.report(0), replay.report(0));
  }
}
