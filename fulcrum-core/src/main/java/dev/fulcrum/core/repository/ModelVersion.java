package dev.fulcrum.core.repository;

import dev.fulcrum.core.config.ModelConfig;
import dev.fulcrum.core.scheduler.InstancePool;
import java.time.Duration;
import java.util.Objects;

/**
 * One served version of a model: its configuration, its instances and its state. Immutable apart
 * from the state, which the repository changes (volatile, read by any thread).
 */
public final class ModelVersion {
  private final String name;
  private final long version;
  private final ModelConfig config;
  private final InstancePool pool;
  private final Duration loadDuration;
  private volatile ModelState state;

  ModelVersion(
      String name, long version, ModelConfig config, InstancePool pool, Duration loadDuration) {
    this.name = Objects.requireNonNull(name);
    this.version = version;
    this.config = Objects.requireNonNull(config);
    this.pool = Objects.requireNonNull(pool);
    this.loadDuration = loadDuration;
    this.state = ModelState.READY;
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

  public InstancePool pool() {
    return pool;
  }

  public Duration loadDuration() {
    return loadDuration;
  }

  public ModelState state() {
    return state;
  }

  public boolean isReady() {
    return state == ModelState.READY;
  }

  void setState(ModelState s) {
    this.state = s;
  }
}
