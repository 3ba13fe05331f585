package dev.fulcrum.server.http;

import dev.fulcrum.core.tenant.Admission;
import io.netty.handler.codec.http.FullHttpRequest;

/**
 * An aggregated request whose tenant's limits admitted it at its head ({@link LimitedAggregator},
 * {@link dev.fulcrum.core.InferenceService#admitEarly}), passed to the dispatcher with that
 * admission: whoever holds it (the dispatcher's queue, then the handler and the core) ends the
 * admission exactly once, also when the request is dropped unanswered. Made and read on the
 * connection's event loop; the admission it carries may be ended from any thread.
 *
 * @param request the request (the holder releases it)
 * @param admission its tenant's place, to end once
 */
record AdmittedRequest(FullHttpRequest request, Admission admission) {}
