package dev.fulcrum.tools.serve;

import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelState;
import dev.fulcrum.core.repository.ModelVersionStatus;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What SIGHUP does to a running server ("reload", as operators expect of a daemon): in {@code poll}
 * mode, one scan of the model repository now, the same scan the poll makes every {@code
 * --repository-poll-secs} (new or removed version folders, changed configurations, removed model
 * folders); it is logged when it starts and, when applied, with what changed in the index. In
 * {@code none} mode (the repository is read once, at the start) and {@code explicit} mode (models
 * load and unload only through the repository API) a SIGHUP is logged and changes nothing:
 * re-loading every loaded model there would drop the configuration a load was given and load models
 * nobody asked for. During the start's loads, while shutting down, or while a SIGHUP's scan still
 * runs, it is logged and ignored.
 *
 * <p>Threads: {@link #hangup} is called on the JVM's signal dispatcher thread and returns at once;
 * the scan runs on {@code executor}. Thread-safe.
 */
final class HangupRescan {
  private static final Logger log = LoggerFactory.getLogger(HangupRescan.class);

  /** What a SIGHUP did. */
  enum Outcome {
    /** The repository was scanned and its changes applied. */
    RESCANNED,
    /** The scan failed. */
    FAILED,
    /** A SIGHUP's scan was still running: this one was ignored. */
    ALREADY_RUNNING,
    /** Not in poll mode: nothing done. */
    NOT_POLL_MODE,
    /** The start's loads were still running: nothing done. */
    STARTING,
    /** The server was shutting down: nothing done. */
    STOPPING
  }

  private final ControlMode mode;
  private final BooleanSupplier starting;
  private final BooleanSupplier stopping;
  private final Supplier<CompletableFuture<Void>> poll;
  private final Supplier<List<ModelVersionStatus>> index;
  private final Executor executor;
  private final LongSupplier nanoClock;
  private final AtomicBoolean running = new AtomicBoolean();

  /**
   * @param mode the model control mode
   * @param starting whether the start's loads still run
   * @param stopping whether the server is shutting down
   * @param poll one scan of the repository, completing when its changes are applied
   * @param index the repository index now
   * @param executor runs the scan (not the signal thread)
   */
  HangupRescan(
      ControlMode mode,
      BooleanSupplier starting,
      BooleanSupplier stopping,
      Supplier<CompletableFuture<Void>> poll,
      Supplier<List<ModelVersionStatus>> index,
      Executor executor,
      LongSupplier nanoClock) {
    this.mode = mode;
    this.starting = starting;
    this.stopping = stopping;
    this.poll = poll;
    this.index = index;
    this.executor = executor;
    this.nanoClock = nanoClock;
  }

  /** Handles one SIGHUP; the future completes with what it did, once done. */
  CompletableFuture<Outcome> hangup() {
    if (stopping.getAsBoolean()) {
      log.info("SIGHUP: the server is shutting down; ignored");
      return CompletableFuture.completedFuture(Outcome.STOPPING);
    }
    if (mode != ControlMode.POLL) {
      log.info(
          "SIGHUP: nothing to reload in model control mode {} ({}); the server keeps serving."
              + " With --model-control-mode poll a SIGHUP re-scans the model repository",
          mode.name().toLowerCase(Locale.ROOT),
          mode == ControlMode.EXPLICIT
              ? "models load and unload through the repository API only: POST"
                  + " /v2/repository/models/<name>/load re-reads a model's folder"
              : "the repository is read once, at the start");
      return CompletableFuture.completedFuture(Outcome.NOT_POLL_MODE);
    }
    if (starting.getAsBoolean()) {
      log.info("SIGHUP: the start's model loads are still running; ignored (polling follows them)");
      return CompletableFuture.completedFuture(Outcome.STARTING);
    }
    if (!running.compareAndSet(false, true)) {
      log.info("SIGHUP: the last SIGHUP's re-scan is still running; ignored");
      return CompletableFuture.completedFuture(Outcome.ALREADY_RUNNING);
    }
    log.info("SIGHUP: re-scanning the model repository (as the poll does)");
    CompletableFuture<Outcome> done = new CompletableFuture<>();
    try {
      executor.execute(() -> done.complete(rescan()));
    } catch (RuntimeException e) {
      running.set(false);
      log.warn("SIGHUP: cannot re-scan the model repository: {}", e.toString());
      done.complete(Outcome.FAILED);
    }
    return done;
  }

  private Outcome rescan() {
    try {
      long start = nanoClock.getAsLong();
      Map<String, String> before = rows(index.get());
      poll.get().join();
      List<ModelVersionStatus> now = index.get();
      long ms = (nanoClock.getAsLong() - start) / 1_000_000;
      log.info(
          "SIGHUP: model repository re-scanned in {} ms; the index lists {} model version(s),"
              + " {} ready; {}",
          ms,
          now.size(),
          now.stream().filter(s -> s.state() == ModelState.READY).count(),
          changes(before, rows(now)));
      return Outcome.RESCANNED;
    } catch (RuntimeException e) {
      log.warn("SIGHUP: re-scanning the model repository failed: {}", e.toString());
      return Outcome.FAILED;
    } finally {
      running.set(false);
    }
  }

  /**
   * Each row's name and version, and its state as the repository index shows it (Triton's states:
   * an unloaded version is UNAVAILABLE (unloaded), as the index's reason says). A row without a
   * version is a model that failed before its versions were known: "(no version)", so that "typo
   * (no version) gone" beside "typo v1 READY (new)" reads as the fix it is.
   */
  static Map<String, String> rows(List<ModelVersionStatus> index) {
    Map<String, String> m = new LinkedHashMap<>();
    for (ModelVersionStatus s : index) {
      m.put(
          s.version().isEmpty() ? s.name() + " (no version)" : s.name() + " v" + s.version(),
          s.state().tritonName() + (s.state() == ModelState.UNLOADED ? " (unloaded)" : ""));
    }
    return m;
  }

  /** The rows that came, went or changed state, in one phrase. */
  static String changes(Map<String, String> before, Map<String, String> after) {
    List<String> changed = new ArrayList<>();
    after.forEach(
        (row, state) -> {
          String was = before.get(row);
          if (was == null) {
            changed.add(row + " " + state + " (new)");
          } else if (!was.equals(state)) {
            changed.add(row + " " + was + " -> " + state);
          }
        });
    before.forEach(
        (row, state) -> {
          if (!after.containsKey(row)) {
            changed.add(row + " gone");
          }
        });
    return changed.isEmpty()
        ? "no version came, went or changed state"
        : "changed: " + String.join(", ", changed);
  }
}
