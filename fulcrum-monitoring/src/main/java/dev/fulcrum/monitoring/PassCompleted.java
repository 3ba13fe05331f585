package dev.fulcrum.monitoring;

import dev.fulcrum.core.repository.ModelVersion;
import dev.fulcrum.core.scheduler.PassListener;
import org.jspecify.annotations.Nullable;

/**
 * A successful forward pass as the engine thread hands it to the monitor thread: references to the
 * pass's joined inputs and whole outputs (immutable tensors owning garbage-collected buffers that
 * nobody reuses; {@link PassListener}), not a copy. One queue slot per pass instead of one per
 * request, and the monitor thread reads one input and one buffer per output instead of each
 * request's objects. Immutable.
 *
 * @param source the version that ran it (null only in tests)
 * @param epochMillis when it completed
 */
record PassCompleted(@Nullable ModelVersion source, PassListener.Pass pass, long epochMillis)
    implements Handed {}
