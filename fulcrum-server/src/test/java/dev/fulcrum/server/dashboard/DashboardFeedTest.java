package dev.fulcrum.server.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The feed without a server: ticks driven by the test, subscribers that record what they get. The
 * history stays bounded, a new subscriber's first frame is the history, and a subscriber that
 * leaves, falls behind or fails never disturbs the others.
 */
class DashboardFeedTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Records every frame; answers {@code take} to each send. */
  private static final class Page implements DashboardFeed.Subscriber {
    final List<JsonNode> frames = new ArrayList<>();
    volatile boolean take = true;
    volatile boolean fail;
    int ended;

    @Override
    public boolean send(byte[] frame) {
      if (fail) {
        throw new IllegalStateException("a broken page");
      }
      if (!take) {
        return false;
      }
      try {
        frames.add(JSON.readTree(frame));
      } catch (IOException e) {
        throw new AssertionError(e);
      }
      return true;
    }

    @Override
    public void end() {
      ended++;
    }

    String kind(int i) {
      return frames.get(i).get("kind").asText();
    }
  }

  private static void tick(DashboardFeed feed, int second) {
    feed.tick(second * 1_000_000_000L, 1_000_000L + second * 1000L);
  }

  @Test
  void theHistoryRingKeepsTheNewestSamplesOnly() {
    History h = new History(5, 2, 1);
    for (int i = 0; i < 12; i++) {
      h.add(i, new double[] {i, -i}, new long[] {i});
    }
    assertThat(h.size()).isEqualTo(5);
    assertThat(h.time(0)).isEqualTo(7);
    assertThat(h.time(4)).isEqualTo(11);
    assertThat(h.value(1, 0)).isEqualTo(-7);
    assertThat(h.count(0, 4)).isEqualTo(11);
    assertThat(h.recentMean(0, 2)).isEqualTo(10.5);
    assertThat(History.bytes(300, 14, 10)).isEqualTo(300 * (8 + 8 * 14 + 8 * 10));
    assertThat(DashboardFeed.historyBytesPerVersion()).isEqualTo(History.bytes(300, 18, 10));
  }

  @Test
  void aNewPageGetsTheBoundedHistoryFirstThenOneSamplePerTick() {
    DashboardFeed feed = new DashboardFeed(3);
    for (int s = 1; s <= 10; s++) {
      tick(feed, s);
    }
    Page page = new Page();
    assertThat(feed.subscribe(page)).isTrue();
    tick(feed, 11);
    tick(feed, 12);
    assertThat(page.frames).hasSize(2);
    assertThat(page.kind(0)).isEqualTo("history");
    assertThat(page.frames.get(0).at("/server/t")).hasSize(3);
    assertThat(page.frames.get(0).at("/server/t/2").asLong()).isEqualTo(1_000_000L + 11_000L);
    assertThat(page.kind(1)).isEqualTo("tick");
    assertThat(page.frames.get(1).at("/server/t")).hasSize(1);
    assertThat(page.frames.get(1).get("models")).isEmpty();
  }

  @Test
  void onePageLeavingFallingBehindOrFailingDoesNotDisturbTheOthers() {
    DashboardFeed feed = new DashboardFeed(10);
    Page steady = new Page();
    Page leaving = new Page();
    Page slow = new Page();
    Page broken = new Page();
    for (Page p : List.of(steady, leaving, slow, broken)) {
      assertThat(feed.subscribe(p)).isTrue();
    }
    tick(feed, 1);
    assertThat(feed.subscribers()).isEqualTo(4);

    feed.unsubscribe(leaving); // its connection closed
    slow.take = false; // its outbound buffer is still full
    broken.fail = true;
    tick(feed, 2);
    tick(feed, 3);

    assertThat(steady.frames).hasSize(3);
    assertThat(steady.ended).isZero();
    assertThat(leaving.frames).hasSize(1);
    assertThat(leaving.ended).as("a page that left is not ended again").isZero();
    assertThat(slow.frames).hasSize(1);
    assertThat(slow.ended).as("a slow page is dropped and ended once").isEqualTo(1);
    assertThat(broken.ended).isEqualTo(1);
    assertThat(feed.subscribers()).isEqualTo(1);

    feed.close();
    assertThat(steady.ended).isEqualTo(1);
    assertThat(feed.subscribers()).isZero();
  }

  @Test
  void pagesBeyondTheCapAreRefused() {
    DashboardFeed feed = new DashboardFeed(2);
    for (int i = 0; i < DashboardFeed.MAX_SUBSCRIBERS; i++) {
      assertThat(feed.subscribe(new Page())).isTrue();
    }
    Page extra = new Page();
    assertThat(feed.subscribe(extra)).isFalse();
    tick(feed, 1);
    assertThat(extra.frames).isEmpty();
  }

  @Test
  void batchSizesFallIntoPowerOfTwoBuckets() {
    assertThat(VersionTrack.bucketOf(1)).isZero();
    assertThat(VersionTrack.bucketOf(2)).isEqualTo(1);
    assertThat(VersionTrack.bucketOf(3)).isEqualTo(2);
    assertThat(VersionTrack.bucketOf(4)).isEqualTo(2);
    assertThat(VersionTrack.bucketOf(5)).isEqualTo(3);
    assertThat(VersionTrack.bucketOf(64)).isEqualTo(6);
    assertThat(VersionTrack.bucketOf(100_000)).isEqualTo(VersionTrack.BATCH_BUCKETS - 1);
  }

  @Test
  void theVerdictNamesWhyAModelIsSlow() {
    assertThat(verdict(0, 0, 0, 0, 0, 0, 0, 8, null).text()).startsWith("idle");
    assertThat(verdict(100, 5, 0, 0, 1, 1, 0.5, 8, null))
        .isEqualTo(new Verdict("bad", "rejecting: queue full, 5.0/s refused"));
    assertThat(verdict(100, 0, 2, 0, 1, 1, 0.5, 8, null).text()).startsWith("timing out");
    assertThat(verdict(100, 0, 0, 0, 9, 1, 0.95, 32, null).text())
        .isEqualTo("queueing: small batches (mean 1.0 of 32) on busy instances");
    assertThat(verdict(100, 0, 0, 0, 9, 1, 0.95, 0, null).text())
        .isEqualTo("queueing: instances 95% busy");
    assertThat(verdict(100, 0, 0, 0, 0.1, 3, 0.3, 8, null))
        .isEqualTo(new Verdict("ok", "computing: 97% of latency in the model"));
    DashboardSource.Slo slo = new DashboardSource.Slo(2, 99, 0.9, 0.3, 0.5, 1.0);
    Verdict missed = verdict(100, 0, 0, 0, 0.1, 3, 0.3, 8, slo);
    assertThat(missed.level()).isEqualTo("bad");
    assertThat(missed.text()).startsWith("missing SLO (p99 3.1 ms > 2.0 ms)");
    DashboardSource.Drift drift =
        new DashboardSource.Drift(
            List.of(
                new DashboardSource.FeatureDrift("amount", "drift", 0.4, 0.2, true),
                new DashboardSource.FeatureDrift("hour", "ok", 0.01, 0.2, false),
                new DashboardSource.FeatureDrift("range", "drift (range)", 4.0, 4.0, true)));
    History h = history(100, 0, 0, 0, 0.1, 3, 0.3);
    assertThat(Verdict.of(h, 8, true, null, drift, Verdict.MachineCpu.UNKNOWN).text())
        .startsWith("drift in amount, range");
    // Monitoring asked for but broken is a warning too, not "idle".
    DashboardSource.Drift broken =
        new DashboardSource.Drift(List.of(), "cannot read the baseline baseline.json");
    // SLO refusals are not a full queue: raising max-queue-size would change nothing.
    History refusing = history(100, 0, 0, 0, 0.1, 3, 0.3);
    double[] v = new double[VersionTrack.Column.values().length];
    v[VersionTrack.Column.RPS.index] = 100;
    v[VersionTrack.Column.SLO_REFUSED.index] = 40;
    refusing.add(5, v, new long[VersionTrack.BATCH_BUCKETS]);
    assertThat(Verdict.of(refusing, 8, true, slo, null, Verdict.MachineCpu.UNKNOWN))
        .isEqualTo(new Verdict("bad", "refusing for the SLO: 8.0/s could not meet the objective"));
    Verdict unmonitored =
        Verdict.of(history(0, 0, 0, 0, 0, 0, 0), 8, true, null, broken, Verdict.MachineCpu.UNKNOWN);
    assertThat(unmonitored.level()).isEqualTo("warn");
    assertThat(unmonitored.text())
        .isEqualTo("not monitored: cannot read the baseline baseline.json");
    // Requests refused with 400 are the clients' inputs, not the engine: a warning of their own.
    History badInput = history(100, 0, 0, 0, 0.1, 3, 0.3);
    double[] b = new double[VersionTrack.Column.values().length];
    b[VersionTrack.Column.RPS.index] = 100;
    b[VersionTrack.Column.INVALID.index] = 20;
    b[VersionTrack.Column.COMPUTE_MS.index] = 3;
    badInput.add(5, b, new long[VersionTrack.BATCH_BUCKETS]);
    assertThat(Verdict.of(badInput, 8, true, null, null, Verdict.MachineCpu.UNKNOWN))
        .isEqualTo(new Verdict("warn", "bad input: 4.0/s refused with 400"));
  }

  @Test
  void queueingOnIdleInstancesWhileTheMachinesCpuIsTakenIsPutDownToTheCpu() {
    // 90% of latency waiting, instances 2% busy: with every core busy the workers wait for a core,
    // and more instances would only add threads to wait; with cores free it stays the share.
    History h = history(30, 0, 0, 0, 9, 1, 0.02);
    assertThat(Verdict.of(h, 8, true, null, null, Verdict.MachineCpu.busy(97)).text())
        .isEqualTo(
            "queueing: machine CPU 97% busy, instances 2% busy — short of CPU, not of instances");
    assertThat(Verdict.of(h, 8, true, null, null, Verdict.MachineCpu.busy(40)).text())
        .isEqualTo("queueing: 90% of latency waiting, instances 2% busy");
    assertThat(Verdict.of(h, 8, true, null, null, Verdict.MachineCpu.UNKNOWN).text())
        .startsWith("queueing: 90% of latency waiting");
    // In a container, the quota's throttling, which the host's /proc/stat cannot show.
    assertThat(Verdict.of(h, 8, true, null, null, new Verdict.MachineCpu(35, 62)).text())
        .isEqualTo(
            "queueing: CPU quota throttled the server in 62% of periods, instances 2% busy — short"
                + " of CPU (raise the container's CPU limit), not of instances");
    assertThat(Verdict.of(h, 8, true, null, null, new Verdict.MachineCpu(35, 5)).text())
        .startsWith("queueing: 90% of latency waiting");
    // Saturated instances stay the finding whatever the machine does.
    assertThat(
            Verdict.of(
                    history(30, 0, 0, 0, 9, 1, 0.95),
                    0,
                    true,
                    null,
                    null,
                    Verdict.MachineCpu.busy(99))
                .text())
        .isEqualTo("queueing: instances 95% busy");
  }

  @Test
  void aDriftVerdictNamesTheInputsBeforeTheOutputsAndCountsTheRest() {
    List<DashboardSource.FeatureDrift> features = new ArrayList<>();
    features.add(new DashboardSource.FeatureDrift("output label", "drift", 9, 1, true, true));
    features.add(new DashboardSource.FeatureDrift("amount_usd", "drift", 2, 1, true));
    History h = history(0, 0, 0, 0, 0, 0, 0);
    assertThat(driftVerdict(h, features)).isEqualTo("drift in amount_usd, output label");
    for (String f : List.of("hour", "risk", "distance", "age")) {
      features.add(new DashboardSource.FeatureDrift(f, "drift", 2, 1, true));
    }
    assertThat(driftVerdict(h, features)).isEqualTo("drift in amount_usd, hour, risk and 3 more");
  }

  private static String driftVerdict(History h, List<DashboardSource.FeatureDrift> features) {
    return Verdict.of(
            h, 8, true, null, new DashboardSource.Drift(features), Verdict.MachineCpu.UNKNOWN)
        .text();
  }

  @Test
  void theMachinesCpuComesFromProcStat() {
    long[] before = ServerSampler.parseCpuLine("cpu  100 0 100 700 100 0 0 0 0 0");
    long[] after = ServerSampler.parseCpuLine("cpu  400 0 200 800 100 0 0 100 0 0");
    assertThat(before).isNotNull();
    assertThat(after).isNotNull();
    double[] v = new double[ServerSampler.COLUMNS];
    ServerSampler.machineShares(before, after, v);
    // 600 ticks passed: 300 user, 100 system, 100 idle, 100 stolen: 500 busy.
    assertThat(v[ServerSampler.MACHINE_CPU]).isEqualTo(100.0 * 500 / 600);
    assertThat(v[ServerSampler.STEAL]).isEqualTo(100.0 * 100 / 600);
    assertThat(ServerSampler.parseCpuLine("intr 1 2 3")).isNull();
  }

  @Test
  void endingTheStreamsEndsEachOnceAndFreesTheirSlots() {
    DashboardFeed feed = new DashboardFeed(2);
    Page old = new Page();
    Page fresh = new Page();
    assertThat(feed.subscribe(old)).isTrue();
    tick(feed, 1);
    assertThat(feed.subscribe(fresh)).isTrue();
    feed.endStreams();
    assertThat(old.ended).isEqualTo(1);
    assertThat(fresh.ended).isEqualTo(1);
    assertThat(feed.subscribers()).isZero();
    tick(feed, 2);
    assertThat(old.frames).hasSize(1);
    feed.close();
    assertThat(old.ended).as("not ended twice").isEqualTo(1);
    assertThat(feed.subscribers()).isZero();
  }

  private static Verdict verdict(
      double rps,
      double rejected,
      double timedOut,
      double failed,
      double queueMs,
      double computeMs,
      double util,
      int maxBatch,
      DashboardSource.Slo slo) {
    return Verdict.of(
        history(rps, rejected, timedOut, failed, queueMs, computeMs, util),
        maxBatch,
        true,
        slo,
        null,
        Verdict.MachineCpu.UNKNOWN);
  }

  private static History history(
      double rps,
      double rejected,
      double timedOut,
      double failed,
      double queueMs,
      double computeMs,
      double util) {
    History h = new History(10, VersionTrack.Column.values().length, VersionTrack.BATCH_BUCKETS);
    double[] v = new double[VersionTrack.Column.values().length];
    v[VersionTrack.Column.RPS.index] = rps;
    v[VersionTrack.Column.REJECTED.index] = rejected;
    v[VersionTrack.Column.TIMED_OUT.index] = timedOut;
    v[VersionTrack.Column.FAILED.index] = failed;
    v[VersionTrack.Column.QUEUE_MS.index] = queueMs;
    v[VersionTrack.Column.COMPUTE_MS.index] = computeMs;
    v[VersionTrack.Column.UTILIZATION.index] = util;
    v[VersionTrack.Column.BATCH_MEAN.index] = 1;
    v[VersionTrack.Column.P50.index] = queueMs + computeMs;
    v[VersionTrack.Column.P95.index] = queueMs + computeMs;
    v[VersionTrack.Column.P99.index] = queueMs + computeMs;
    for (int i = 0; i < 5; i++) {
      h.add(i, v, new long[VersionTrack.BATCH_BUCKETS]);
    }
    return h;
  }
}
