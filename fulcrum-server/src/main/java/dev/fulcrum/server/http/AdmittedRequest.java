package dev.fulcrum.server.http;

import dev.fulcrum.core.tenant.Admission;
import dev.fulcrum.server.HttpServerConfig.InvocationsModel;
import io.netty.handler.codec.http.FullHttpRequest;
import org.jspecify.annotations.Nullable;

/**
 * An aggregated request whose tenant's limits admitted it at its head ({@link LimitedAggregator},
 * {@link dev.fulcrum.core.InferenceService#admitEarly}), passed to the dispatcher with that
 * admission: whoever holds it (the dispatcher's queue, then the handler and the core) ends the
 * admission exactly once, also when the request is dropped unanswered. Made and read on the
 * connection's event loop; the admission it carries may be ended from any thread.
 *
 * @param request the request (the holder releases it)
 * @param admission its tenant's place, to end once
 * @param invocations the model a {@code POST /invocations} runs, as its head chose it for the
 *     admission ({@link InvocationsTarget#of}, chosen once: the dispatcher runs it); null for
 *     another request, or one whose head named no model that could be chosen (the dispatcher then
 *     answers why)
 */
record AdmittedRequest(
    FullHttpRequest request, Admission admission, @Nullable InvocationsModel invocations) {

  /** A request other than {@code POST /invocations}, admitted at its head. */
  AdmittedRequest(FullHttpRequest request, Admission admission) {
    this(request, admission, null);
  }
}
