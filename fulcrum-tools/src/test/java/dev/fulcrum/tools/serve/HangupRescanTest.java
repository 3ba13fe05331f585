package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.core.repository.ModelVersionStatus;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** What a SIGHUP does in each model control mode and state of the server, without a signal. */
class HangupRescanTest {
  private final AtomicBoolean starting = new AtomicBoolean();
  private final AtomicBoolean stopping = new AtomicBoolean();
  private final AtomicInteger polls = new AtomicInteger();
  private final List<Runnable> queued = new ArrayList<>();
  private List<ModelVersionStatus> index =
      List.of(new ModelVersionStatus("fraud", "1", ModelState.READY, ""));

  private HangupRescan rescan(ControlMode mode, Executor executor) {
    return new HangupRescan(
        mode,
        starting::get,
        stopping::get,
        () -> {
          polls.incrementAndGet();
          index =
              List.of(
                  new ModelVersionStatus("fraud", "1", ModelState.READY, ""),
                  new ModelVersionStatus("fraud", "2", ModelState.READY, ""));
          return CompletableFuture.completedFuture(null);
        },
        () -> index,
        executor,
        System::nanoTime);
  }

  @Test
  void inPollModeItScansTheRepositoryOnceOffTheSignalThread() {
    HangupRescan r = rescan(ControlMode.POLL, queued::add);
    CompletableFuture<HangupRescan.Outcome> done = r.hangup();
    assertThat(done).isNotDone();
    assertThat(polls).hasValue(0); // the signal thread returned before the scan
    queued.forEach(Runnable::run);
    assertThat(done).isCompletedWithValue(HangupRescan.Outcome.RESCANNED);
    assertThat(polls).hasValue(1);
  }

  @Test
  void aSecondSignalWhileTheScanRunsIsIgnoredAndTheNextOneAfterItScansAgain() {
    HangupRescan r = rescan(ControlMode.POLL, queued::add);
    CompletableFuture<HangupRescan.Outcome> first = r.hangup();
    assertThat(r.hangup()).isCompletedWithValue(HangupRescan.Outcome.ALREADY_RUNNING);
    queued.forEach(Runnable::run);
    queued.clear();
    assertThat(first).isCompletedWithValue(HangupRescan.Outcome.RESCANNED);
    CompletableFuture<HangupRescan.Outcome> third = r.hangup();
    queued.forEach(Runnable::run);
    assertThat(third).isCompletedWithValue(HangupRescan.Outcome.RESCANNED);
    assertThat(polls).hasValue(2);
  }

  @Test
  void aFailedScanIsReportedAndDoesNotBlockTheNext() {
    HangupRescan r =
        new HangupRescan(
            ControlMode.POLL,
            starting::get,
            stopping::get,
            () -> CompletableFuture.failedFuture(new IllegalStateException("disk gone")),
            () -> index,
            Runnable::run,
            System::nanoTime);
    assertThat(r.hangup()).isCompletedWithValue(HangupRescan.Outcome.FAILED);
    assertThat(r.hangup()).isCompletedWithValue(HangupRescan.Outcome.FAILED);
  }

  @Test
  void noneAndExplicitModesChangeNothing() {
    for (ControlMode mode : List.of(ControlMode.NONE, ControlMode.EXPLICIT)) {
      assertThat(rescan(mode, Runnable::run).hangup())
          .isCompletedWithValue(HangupRescan.Outcome.NOT_POLL_MODE);
    }
    assertThat(polls).hasValue(0);
  }

  @Test
  void duringTheStartsLoadsOrTheShutdownNothingIsScanned() {
    HangupRescan r = rescan(ControlMode.POLL, Runnable::run);
    starting.set(true);
    assertThat(r.hangup()).isCompletedWithValue(HangupRescan.Outcome.STARTING);
    starting.set(false);
    stopping.set(true);
    assertThat(r.hangup()).isCompletedWithValue(HangupRescan.Outcome.STOPPING);
    assertThat(polls).hasValue(0);
  }

  @Test
  void theLogLineNamesWhatCameWentOrChangedState() {
    Map<String, String> before = new LinkedHashMap<>();
    before.put("fraud v1", "READY");
    before.put("fraud_b v1", "READY");
    before.put("minilm v1", "LOADING");
    Map<String, String> after = new LinkedHashMap<>();
    after.put("fraud v1", "READY");
    after.put("fraud v2", "READY");
    after.put("minilm v1", "READY");
    assertThat(HangupRescan.changes(before, after))
        .isEqualTo("changed: fraud v2 READY (new), minilm v1 LOADING -> READY, fraud_b v1 gone");
    assertThat(HangupRescan.changes(before, before))
        .isEqualTo("no version came, went or changed state");
  }

  @Test
  void theLogLineUsesTheIndexsStates() {
    Map<String, String> before =
        HangupRescan.rows(
            List.of(
                new ModelVersionStatus("good", "1", ModelState.READY, ""),
                new ModelVersionStatus("typo", "", ModelState.UNAVAILABLE, "unknown field")));
    Map<String, String> after =
        HangupRescan.rows(
            List.of(
                new ModelVersionStatus("good", "1", ModelState.UNLOADED, "unloaded"),
                new ModelVersionStatus("good", "2", ModelState.WARMING, ""),
                new ModelVersionStatus("typo", "1", ModelState.READY, "")));
    assertThat(HangupRescan.changes(before, after))
        .isEqualTo(
            "changed: good v1 READY -> UNAVAILABLE (unloaded), good v2 LOADING (new),"
                + " typo v1 READY (new), typo (no version) gone");
  }
}
