package dev.fulcrum.core.repository;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/** Something that happened to a model version; delivered to every {@link LifecycleListener}. */
public sealed interface LifecycleEvent {
  String model();

  long version();

  /**
   * A version changed state.
   *
   * @param reason why, for UNAVAILABLE; "" otherwise
   */
  record StateChanged(
      String model, long version, @Nullable ModelState from, ModelState to, String reason)
      implements LifecycleEvent {}

  /** A version finished loading and warming up and now takes requests. */
  record Loaded(String model, long version, Duration loadDuration, Duration warmupDuration)
      implements LifecycleEvent {}

  /**
   * A load (or warm-up) failed; any version that was serving before keeps serving.
   *
   * @param version the version, or 0 when the model failed before its versions were known
   */
  record LoadFailed(String model, long version, String reason) implements LifecycleEvent {}
}
