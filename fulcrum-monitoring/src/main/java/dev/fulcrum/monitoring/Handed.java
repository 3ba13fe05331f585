package dev.fulcrum.monitoring;

import dev.fulcrum.core.repository.ModelVersion;
import org.jspecify.annotations.Nullable;

/**
 * What an engine thread queues for the monitor thread: one request, or one whole pass (by
 * reference, or its values copied).
 */
sealed interface Handed permits Completed, PassCompleted, PassCopy {

  /** The version that ran it (null only in tests). */
  @Nullable ModelVersion source();
}
