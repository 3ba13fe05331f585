package dev.fulcrum.core.repository;

/**
 * Receives the {@link LifecycleEvent}s of the model manager (metrics, logs). Called on the control
 * thread that made the change, in the order of the changes of one model; must not block.
 */
@FunctionalInterface
public interface LifecycleListener {
  void onEvent(LifecycleEvent event);
}
