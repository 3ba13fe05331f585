package dev.fulcrum.core.tenant;

import dev.fulcrum.core.error.InferenceException;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * A caller the server charges and limits: the team a bearer token belongs to. The transport sets a
 * request's tenant after its token check ({@link
 * dev.fulcrum.core.inference.InferenceRequest#tenant()}); a client cannot name one. One instance
 * per tenant name, made at start from the token file, so the core reaches the tenant's limiter and
 * counters through the request without a lookup.
 *
 * <p>Design: a request of a tenant with limits takes its place in the {@link TenantLimiter} before
 * it is queued, or earlier, at its headers, as an {@link Admission} ({@link #enter}: the
 * transport's early refusal, before the body is read), and gives it back when answered; every
 * request of a tenant is counted in its {@link ModelUsage} for the model that ran it, once, when it
 * completes. A server without tenants (no token names one or sets a limit) has none: its requests
 * carry none and pay for none of this.
 *
 * <p>Threads: the name and limiter are fixed; the usage map is concurrent.
 */
public final class Tenant {
  /** The tenant of requests that carry no token where none is needed. */
  public static final String ANONYMOUS = "anonymous";

  /** Letters, digits, {@code _ . -}, starting with a letter or digit: safe as a metric label. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}");

  private final String name;
  private final @Nullable TenantLimiter limiter;
  private final ConcurrentHashMap<String, ModelUsage> usage = new ConcurrentHashMap<>();

  /**
   * @param name a valid name ({@link #checkName})
   * @param limits its limits ({@link TenantLimits#NONE}: none, and no limiter)
   * @param clock the limiter's clock
   */
  public Tenant(String name, TenantLimits limits, LongSupplier clock) {
    String problem = checkName(name);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
    this.name = name;
    this.limiter = limits.limited() ? new TenantLimiter(name, limits, clock) : null;
  }

  /** A tenant without limits. */
  public Tenant(String name) {
    this(name, TenantLimits.NONE, System::nanoTime);
  }

  /**
   * What is wrong with a tenant name, or null when it is valid: 1 to 63 letters, digits, {@code _},
   * {@code .} and {@code -}, starting with a letter or digit.
   */
  public static @Nullable String checkName(String name) {
    Objects.requireNonNull(name, "name");
    if (NAME.matcher(name).matches()) {
      return null;
    }
    return "a tenant name must be 1 to 63 letters, digits, '_', '.' or '-', starting with a letter"
        + " or digit; was '"
        + (name.length() > 70 ? name.substring(0, 70) + "..." : name)
        + "'";
  }

  public String name() {
    return name;
  }

  /** Its limits ({@link TenantLimits#NONE} when it has none). */
  public TenantLimits limits() {
    TenantLimiter l = limiter;
    return l == null ? TenantLimits.NONE : l.limits();
  }

  /**
   * Admits a request of this tenant before it is queued; an admitted one must be {@link #finished}
   * once. A refused one is counted here as {@link Outcome#REFUSED} for {@code model}.
   *
   * @return null when admitted, else the refusal to answer with
   */
  public @Nullable InferenceException admit(String model) {
    TenantLimiter l = limiter;
    if (l == null) {
      return null;
    }
    InferenceException refused = l.tryAcquire();
    if (refused != null) {
      usageOf(model).count(Outcome.REFUSED);
    }
    return refused;
  }

  /**
   * Admits a request of this tenant as soon as its tenant is known, before its body is read (a
   * transport at the request's headers): the rate's token is spent and a concurrency permit taken
   * now, and held by the returned {@link Admission} until it ends, once. A refused request is
   * counted here as {@link Outcome#REFUSED} for {@code model}. A tenant without limits admits every
   * request (its admission only counts).
   *
   * @param model the model the request names before its body ("" where that is not known yet: its
   *     label is then "" for a refusal and for a failure before a model ran it)
   * @throws InferenceException RESOURCE_EXHAUSTED with a retry hint when over a limit
   */
  public Admission enter(String model) {
    InferenceException refused = admit(model);
    if (refused != null) {
      throw refused;
    }
    return new Admission(this, model);
  }

  /**
   * Counts an admitted request once it completes and gives back its place: its charge (rows,
   * compute share and cost; for a request answered in parts, the parts' summed), or the outcome of
   * its failure.
   *
   * @param model the model that ran it (the name its version is served under)
   * @param charge what the answer cost, null when it failed
   * @param t its failure, null when answered
   */
  public void finished(String model, @Nullable Charge charge, @Nullable Throwable t) {
    TenantLimiter l = limiter;
    if (l != null) {
      l.release();
    }
    ModelUsage u = usageOf(model);
    if (charge == null || t != null) {
      u.count(Outcome.of(t));
    } else {
      u.answered(charge.rows(), charge.computeSeconds(), charge.costUsd());
    }
  }

  /** Gives back an admitted request's place and counts it as {@code outcome}, charging nothing. */
  void ended(String model, Outcome outcome) {
    TenantLimiter l = limiter;
    if (l != null) {
      l.release();
    }
    if (outcome == Outcome.SUCCESS) {
      usageOf(model).answered(0, 0, 0);
    } else {
      usageOf(model).count(outcome);
    }
  }

  /**
   * Counts a request that never reached the core's admission (refused or malformed at the
   * transport: a full queue, a body that does not decode): its outcome only.
   */
  public void failedBeforeAdmission(String model, Throwable t) {
    usageOf(model).count(Outcome.of(t));
  }

  private ModelUsage usageOf(String model) {
    ModelUsage u = usage.get(model);
    return u != null ? u : usage.computeIfAbsent(model, m -> new ModelUsage());
  }

  /** Requests in flight now, for a tenant with a concurrency limit (0 otherwise). */
  public int inFlight() {
    TenantLimiter l = limiter;
    return l == null ? 0 : l.inFlight();
  }

  /** Its usage per model, by model name (a live view: counters grow as requests complete). */
  public SortedMap<String, ModelUsage> usage() {
    return Collections.unmodifiableSortedMap(new TreeMap<>(Map.copyOf(usage)));
  }

  @Override
  public String toString() {
    return "Tenant[" + name + ", " + limits() + "]";
  }
}
