package dev.fulcrum.core.tenant;

import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * One request of a tenant admitted against its limits as soon as the transport knew the tenant, at
 * the request's headers, before its body was read ({@link Tenant#enter}): it holds the request's
 * place (a concurrency permit; its rate token is spent) until it ends, and ends exactly once,
 * counted once in the tenant's usage whichever path ends it first: the core when it answers the
 * request, the transport when the request fails before the core ran it (a body over the limit, one
 * that does not decode, a client that went away), or the transport's last word on it (its answer
 * written, its connection or call closed) where nothing else did.
 *
 * <p>Threads: {@link #finished}, {@link #failed} and {@link #ended(Outcome)} may race on any
 * threads; one compare-and-set lets the first one count and give back the place, the others do
 * nothing.
 */
public final class Admission {
  private final Tenant tenant;
  private final String model;
  private final AtomicBoolean ended = new AtomicBoolean();

  /**
   * @param tenant the tenant whose place it holds
   * @param model the model its failure before a model ran it is counted under: the one the request
   *     named before its body ("" where none was known then)
   */
  Admission(Tenant tenant, String model) {
    this.tenant = tenant;
    this.model = model;
  }

  /** The tenant it was admitted for. */
  public Tenant tenant() {
    return tenant;
  }

  /** The model named at its headers, "" where none was known then. */
  public String model() {
    return model;
  }

  /** Whether it has ended (counted, its place given back). */
  public boolean isEnded() {
    return ended.get();
  }

  /**
   * Ends it once a model ran it (as {@link Tenant#finished}): its charge, or the outcome of its
   * failure; nothing if it had ended already.
   *
   * @return whether this call ended it
   */
  public boolean finished(String ranOn, @Nullable Charge charge, @Nullable Throwable t) {
    if (!ended.compareAndSet(false, true)) {
      return false;
    }
    tenant.finished(ranOn, charge, t);
    return true;
  }

  /**
   * Ends it with {@code t} before a model ran it, counted under the model named at its headers;
   * nothing if it had ended already.
   *
   * @return whether this call ended it
   */
  public boolean failed(Throwable t) {
    return finished(model, null, t);
  }

  /**
   * Ends it with the outcome a transport read off its answer (an HTTP status, a gRPC code) where
   * neither the core nor a failure ended it before; nothing if it had ended already. A success
   * counted here charges nothing.
   *
   * @return whether this call ended it
   */
  public boolean ended(Outcome outcome) {
    if (!ended.compareAndSet(false, true)) {
      return false;
    }
    tenant.ended(model, outcome);
    return true;
  }

  @Override
  public String toString() {
    return "Admission[" + tenant.name() + ", " + (ended.get() ? "ended" : "open") + "]";
  }
}
