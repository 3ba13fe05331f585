/**
 * Tenants: who sent a request (set by the transport after its token check), what each tenant spent
 * per model (requests by outcome, predictions, compute seconds, cost), and the limits that keep one
 * tenant's burst from taking the capacity the others need.
 */
@NullMarked
package dev.fulcrum.core.tenant;

import org.jspecify.annotations.NullMarked;
