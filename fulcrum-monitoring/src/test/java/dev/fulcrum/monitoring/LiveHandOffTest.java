package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The live path (references to the request's tensors, read into the monitor's own arrays) reaches
 * exactly the verdicts of the replay path (values copied into an {@link Observation}), on requests
 * of several rows with outputs; and the shared percentile search gives each value the bin its own
 * search gives.
 */
class LiveHandOffTest {

  @Test
  void liveAndReplayPathsReachTheSameVerdicts() {
    double[][] training = Streams.training(12_000, 11);
    Baseline b = Streams.classifierBaseline(training);
    VersionMonitor live = Streams.monitor(b);
    VersionMonitor replay = Streams.monitor(b);
    List<String> liveEvents = new ArrayList<>();
    List<String> replayEvents = new ArrayList<>();
    Random r = new Random(3);
    int width = Streams.NAMES.size();
    for (int q = 0; q < 15_000; q++) {
      int rows = 1 + r.nextInt(4);
      double[] x = new double[rows * width];
      double[] p = new double[rows * 2];
      long[] y = new long[rows];
      for (int k = 0; k < rows; k++) {
        double[] row = Streams.handOffRow(training, r, q);
        System.arraycopy(row, 0, x, k * width, width);
        double pr = Streams.probability(row);
        p[2 * k] = 1 - pr;
        p[2 * k + 1] = pr;
        y[k] = pr > 0.5 ? 1 : 0;
      }
      Tensor in = Streams.fp64("x", new long[] {rows, width}, x);
      Tensor probabilities = Streams.fp64("p", new long[] {rows, 2}, p);
      Tensor labels = Streams.int64("label", new long[] {rows}, y);
      Completed c =
          new Completed(
              null,
              new InferenceRequest("m", "1", "", Map.of(), List.of(in), List.of()),
              new InferenceResponse("m", "1", "", Map.of(), List.of(probabilities, labels)),
              q,
              0);
      live.observe(c, (v, f, output) -> liveEvents.add(output + " " + f));
      replay.observe(c.observation(), (v, f, output) -> replayEvents.add(output + " " + f));
    }
    assertThat(liveEvents).isNotEmpty();
    assertThat(liveEvents).isEqualTo(replayEvents);
    assertThat(live.report(0)).isEqualTo(replay.report(0));
    assertThat(live.observations()).isGreaterThan(15_000);
  }

  @Test
  void theSharedSearchGivesEachValueItsBin() {
    double[][] training = Streams.training(12_000, 11);
    Baseline b = Streams.baseline(training);
    int checked = 0;
    for (Baseline.FeatureBaseline f : b.features()) {
      if (f.type() != Baseline.Kind.NUMERIC) {
        continue;
      }
      FeatureDetector d = new FeatureDetector(f, DetectorSettings.defaults(), 5);
      assertThat(d.sharesSearch()).as(f.name()).isTrue();
      List<Double> probes = new ArrayList<>();
      for (double q : f.quantiles()) {
        probes.add(q);
        probes.add(Math.nextUp(q));
        probes.add(Math.nextDown(q));
      }
      for (double[] row : training) {
        probes.add(row[Streams.NAMES.indexOf(f.name())]);
      }
      probes.addAll(
          List.of(-1e300, 1e300, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY, 0.0, -0.0));
      for (double x : probes) {
        assertThat(d.bin(x, d.position(x))).as("%s at %s", f.name(), x).isEqualTo(d.bucket(x));
        checked++;
      }
    }
    assertThat(checked).isGreaterThan(20_000);
  }

  @Test
  void theBranchFreeSearchCountsTheValuesBelow() {
    Random r = new Random(9);
    for (int trial = 0; trial < 2_000; trial++) {
      double[] a = new double[r.nextInt(120)];
      for (int i = 0; i < a.length; i++) {
        a[i] = r.nextInt(20); // many ties
      }
      java.util.Arrays.sort(a);
      for (int k = 0; k < 30; k++) {
        double x = r.nextInt(24) - 2 + (r.nextBoolean() ? 0 : 0.5);
        int below = 0;
        while (below < a.length && a[below] < x) {
          below++;
        }
        assertThat(ScoreTransform.lowerBound(a, x)).isEqualTo(below);
      }
    }
  }
}
