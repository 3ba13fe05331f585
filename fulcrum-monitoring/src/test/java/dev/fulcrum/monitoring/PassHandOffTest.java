package dev.fulcrum.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.inference.InferenceRequest;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.scheduler.PassListener;
import dev.fulcrum.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The per-pass hand-off (one pass's joined inputs and whole outputs) reaches exactly the verdicts
 * of the prediction log's replay of the same requests one by one, in batch order: with passes of
 * several requests of several rows, and with mixed passes where some requests did not ask for an
 * output (the log has only what each request asked for, and so is that request's comparison).
 */
class PassHandOffTest {

  @Test
  void aPassReachesTheVerdictsOfItsRequestsReplayedOneByOne() {
    double[][] training = Streams.training(12_000, 11);
    Baseline b = Streams.classifierBaseline(training);
    VersionMonitor live = Streams.monitor(b);
    VersionMonitor replay = Streams.monitor(b);
    VersionMonitor copied = Streams.monitor(b);
    PassCopy.Layout layout = new PassCopy.Layout(List.of("x"), List.of("p", "label"));
    List<String> copiedEvents = new ArrayList<>();
    int copies = 0;
    List<String> liveEvents = new ArrayList<>();
    List<String> replayEvents = new ArrayList<>();
    Random r = new Random(4);
    int width = Streams.NAMES.size();
    int q = 0;
    int mixed = 0;
    while (q < 15_000) {
      int requests = 1 + r.nextInt(5);
      boolean mix = r.nextInt(4) == 0;
      List<double[]> xs = new ArrayList<>();
      List<double[]> ps = new ArrayList<>();
      List<long[]> ys = new ArrayList<>();
      int[] rows = new int[requests];
      List<List<String>> asked = new ArrayList<>();
      for (int i = 0; i < requests; i++, q++) {
        rows[i] = 1 + r.nextInt(4);
        double[] x = new double[rows[i] * width];
        double[] p = new double[rows[i] * 2];
        long[] y = new long[rows[i]];
        for (int k = 0; k < rows[i]; k++) {
          double[] row = Streams.handOffRow(training, r, q);
          System.arraycopy(row, 0, x, k * width, width);
          double pr = Streams.probability(row);
          // A label that disagrees with p after 12,000: an output drift only its askers see.
          p[2 * k] = 1 - pr;
          p[2 * k + 1] = pr;
          y[k] = q >= 12_000 ? 1 : pr > 0.5 ? 1 : 0;
        }
        xs.add(x);
        ps.add(p);
        ys.add(y);
        asked.add(mix && i % 2 == 1 ? List.of("p") : List.of("p", "label"));
      }
      boolean uniform = asked.stream().allMatch(a -> a.size() == 2);
      if (!uniform) {
        mixed++;
      }
      int total = 0;
      for (int n : rows) {
        total += n;
      }
      long millis = q;
      // The replay: each request as the prediction log has it (only the outputs it asked for).
      for (int i = 0; i < requests; i++) {
        List<Tensor> outs = new ArrayList<>();
        outs.add(Streams.fp64("p", new long[] {rows[i], 2}, ps.get(i)));
        if (asked.get(i).contains("label")) {
          outs.add(Streams.int64("label", new long[] {rows[i]}, ys.get(i)));
        }
        Completed c =
            new Completed(
                null,
                new InferenceRequest(
                    "m",
                    "1",
                    "",
                    Map.of(),
                    List.of(Streams.fp64("x", new long[] {rows[i], width}, xs.get(i))),
                    List.of()),
                new InferenceResponse("m", "1", "", Map.of(), outs),
                millis,
                0);
        replay.observe(c.observation(), (v, f, output) -> replayEvents.add(output + " " + f));
      }
      // The live pass: the joined input and the whole outputs (the union of what was asked).
      PassListener.Pass pass =
          new PassListener.Pass(
              List.of(Streams.fp64("x", new long[] {total, width}, concat(xs))),
              List.of("p", "label"),
              List.of(
                  Streams.fp64("p", new long[] {total, 2}, concat(ps)),
                  Streams.int64("label", new long[] {total}, concatLongs(ys))),
              total,
              rows,
              uniform ? null : asked);
      live.observe(
          new PassCompleted(null, pass, millis),
          (v, f, output) -> liveEvents.add(output + " " + f));
      // The same pass copied on the thread that ran it (session 15).
      PassCopy copy = PassCopy.of(null, pass, layout, millis);
      if (copy != null) {
        copies++;
        copied.observe(copy, (v, f, output) -> copiedEvents.add(output + " " + f));
      } else {
        copied.observe(
            new PassCompleted(null, pass, millis),
            (v, f, output) -> copiedEvents.add(output + " " + f));
      }
    }
    assertThat(copies).isGreaterThan(3_000);
    assertThat(copiedEvents).isEqualTo(replayEvents);
    assertThat(copied.report(0)).isEqualTo(replay.report(0));
    assertThat(mixed).isGreaterThan(100);
    assertThat(liveEvents).isNotEmpty();
    assertThat(liveEvents).anyMatch(e -> e.startsWith("true"));
    assertThat(liveEvents).isEqualTo(replayEvents);
    assertThat(live.report(0)).isEqualTo(replay.report(0));
  }

  private static double[] concat(List<double[]> parts) {
    int n = parts.stream().mapToInt(a -> a.length).sum();
    double[] out = new double[n];
    int at = 0;
    for (double[] a : parts) {
      System.arraycopy(a, 0, out, at, a.length);
      at += a.length;
    }
    return out;
  }

  private static long[] concatLongs(List<long[]> parts) {
    int n = parts.stream().mapToInt(a -> a.length).sum();
    long[] out = new long[n];
    int at = 0;
    for (long[] a : parts) {
      System.arraycopy(a, 0, out, at, a.length);
      at += a.length;
    }
    return out;
  }
}
