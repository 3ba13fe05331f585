package dev.fulcrum.core.repository;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.inference.ClassLabels;
import dev.fulcrum.core.pipeline.ModelStages;
import dev.fulcrum.core.scheduler.ModelScheduler;
import dev.fulcrum.core.scheduler.SchedulerObserver;
import dev.fulcrum.core.scheduler.SequenceBatcher;
import dev.fulcrum.core.stats.ModelStatistics;
import dev.fulcrum.core.stats.SloAccounting;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One served version of a model: its configuration, its scheduler (queue, batcher, instances), its
 * statistics, a pipeline model's stages, its outputs' class labels, its response cache and its
 * state. Immutable apart from the state, which the {@link ModelManager} changes on its control
 * thread (volatile, read by any thread; an ensemble's is also changed when a composing model's load
 * re-checks it, READY or UNAVAILABLE).
 */
public final class ModelVersion {
  private final String name;
  private final long version;
  private final ModelConfig config;
  private final ModelScheduler scheduler;
  private final ModelStatistics statistics;
  private final SloAccounting slo;
  private final Duration loadDuration;
  private final Duration warmupDuration;
  private final SchedulerObserver observer;
  private final @Nullable ModelStages stages;
  private final ClassLabels labels;
  private final @Nullable ResponseCache cache;
  private final String folderStamp;
  private final @Nullable String notABatch;
  private final @Nullable SequenceBatcher sequences;
  private volatile ModelState state;

  /**
   * The canary rollout this version is an arm of (stable or canary), or null: set by the manager.
   */
  private volatile @Nullable Rollout rollout;

  ModelVersion(
      String name,
      long version,
      ModelConfig config,
      ModelScheduler scheduler,
      ModelStatistics statistics,
      SloAccounting slo,
      Duration loadDuration,
      Duration warmupDuration,
      SchedulerObserver observer,
      @Nullable ModelStages stages,
      ClassLabels labels,
      String folderStamp,
      @Nullable String notABatch,
      @Nullable SequenceBatcher sequences) {
    this.name = Objects.requireNonNull(name);
    this.version = version;
    this.config = Objects.requireNonNull(config);
    this.scheduler = Objects.requireNonNull(scheduler);
    this.statistics = Objects.requireNonNull(statistics);
    this.slo = Objects.requireNonNull(slo);
    this.loadDuration = loadDuration;
    this.warmupDuration = warmupDuration;
    this.observer = Objects.requireNonNull(observer);
    this.stages = stages;
    this.labels = Objects.requireNonNull(labels);
    this.folderStamp = Objects.requireNonNull(folderStamp);
    this.notABatch = notABatch;
    this.sequences = sequences;
    this.cache =
        config.responseCache().enabled()
            ? new ResponseCache(name, version, config.responseCache().maxBytes())
            : null;
    this.state = ModelState.READY;
  }

  /**
   * Its version folder's stamp when it loaded ({@link RepositorySource#versionStamp}): a load or
   * poll that finds another loads the version again.
   */
  String folderStamp() {
    return folderStamp;
  }

  /**
   * Why the load found that this version's dynamic first dimension is not a batch (its rows depend
   * on each other), so its scheduler never joins requests, although its configuration (batching
   * inferred, no {@code max-batch-size} written) says it batches; null when the load found no such
   * thing or did not check (a {@code max-batch-size} written, no inferred batching). A tool that
   * writes a configuration for the model ({@code fulcrum tune}) reads it here: an explicit {@code
   * max-batch-size} skips the check and would join the rows again.
   */
  public @Nullable String notABatch() {
    return notABatch;
  }

  /**
   * The canary rollout this version is the canary or the stable version of, or null (the model has
   * none, or fewer than two versions serve): a request that names no version and was split by it is
   * counted in it when answered.
   */
  public @Nullable Rollout rollout() {
    return rollout;
  }

  void rollout(@Nullable Rollout r) {
    this.rollout = r;
  }

  /** The observers of this version (statistics and metrics), for work done outside the queue. */
  public SchedulerObserver observer() {
    return observer;
  }

  /** The class labels of its outputs, read from their labels files when the version loaded. */
  public ClassLabels labels() {
    return labels;
  }

  /** A pipeline model's stages around its forward pass; null for a plain model. */
  public @Nullable ModelStages stages() {
    return stages;
  }

  /**
   * This version's response cache, or null when its configuration enables none. A new version or
   * configuration starts with an empty one: a swap invalidates what was cached.
   */
  public @Nullable ResponseCache responseCache() {
    return cache;
  }

  /**
   * Frees a pipeline's stages, and stops a sequence batcher (refusing what still waits in it), once
   * its scheduler has answered every request.
   */
  void closeStages() {
    if (sequences != null) {
      sequences.close();
    }
    if (stages != null) {
      stages.close();
    }
  }

  public String name() {
    return name;
  }

  public long version() {
    return version;
  }

  public String versionString() {
    return Long.toString(version);
  }

  public ModelConfig config() {
    return config;
  }

  public ModelScheduler scheduler() {
    return scheduler;
  }

  /**
   * The sequence batcher in front of the scheduler, for a stateful model ({@code
   * sequence-batching}); null for any other model, whose requests go to the scheduler directly.
   */
  public @Nullable SequenceBatcher sequences() {
    return sequences;
  }

  /**
   * Requests of this version waiting or running now (Triton's pending request count): the
   * scheduler's, and for a stateful model those waiting in its sequence batcher too.
   */
  public int pending() {
    return scheduler.pending() + (sequences != null ? sequences.waiting() : 0);
  }

  public ModelStatistics statistics() {
    return statistics;
  }

  /** The live accounting itself (a reloaded copy may continue it). */
  SloAccounting sloAccounting() {
    return slo;
  }

  /**
   * Live SLO attainment, latency, throughput, utilization and cost over rolling windows, with the
   * batching policy's state: what the {@code /slo} endpoint, the metrics and the dashboard show.
   */
  public SloAccounting.Snapshot sloSnapshot() {
    return slo.snapshot(scheduler.policyState());
  }

  /**
   * The accounting's last 10 s and the load against the capacity over them, without the longer
   * windows {@link #sloSnapshot} merges: what the dashboard samples each second.
   */
  public SloAccounting.Recent sloRecent() {
    return slo.recent(scheduler.policyState());
  }

  /**
   * What one prediction of this version costs now, for a request's {@code cost_usd}: its {@code
   * 10s} window's cost per million predictions / 10^6, refreshed at most once a second; NaN when no
   * price is configured.
   */
  public double costPerPredictionUsd() {
    return slo.costPerPredictionUsd();
  }

  public Duration loadDuration() {
    return loadDuration;
  }

  /** Time spent in warm-up passes (part of {@link #loadDuration()}); zero without warm-up. */
  public Duration warmupDuration() {
    return warmupDuration;
  }

  public ModelState state() {
    return state;
  }

  public boolean isReady() {
    return state == ModelState.READY;
  }

  /**
   * Synchronized: a re-check of an ensemble changes its state and its index row together under this
   * monitor, and a retire's change waits for it ({@code ModelManager#refit}).
   */
  synchronized void setState(ModelState s) {
    this.state = s;
  }
}
