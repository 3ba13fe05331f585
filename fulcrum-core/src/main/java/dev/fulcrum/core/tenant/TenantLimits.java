package dev.fulcrum.core.tenant;

import dev.fulcrum.core.config.PlainNumbers;

/**
 * What one tenant may send: a request rate (a token bucket of {@code burst} requests refilled at
 * {@code ratePerSecond}) and a number of requests in flight at once. Either may be absent (0). A
 * request beyond them is refused at once, before it is queued. Immutable, validated once.
 *
 * @param ratePerSecond requests per second the bucket refills at; 0: no rate limit
 * @param burst the bucket's size: how many requests may come at once after a quiet spell; 0 with a
 *     rate: one second's worth ({@code ceil(ratePerSecond)})
 * @param maxConcurrent requests in flight at once (admitted, not yet answered); 0: no limit
 */
public record TenantLimits(double ratePerSecond, int burst, int maxConcurrent) {
  /** No limit at all. */
  public static final TenantLimits NONE = new TenantLimits(0, 0, 0);

  public TenantLimits {
    if (!(ratePerSecond >= 0) || Double.isInfinite(ratePerSecond)) {
      throw new IllegalArgumentException("rate must be a number >= 0, was " + ratePerSecond);
    }
    if (burst < 0) {
      throw new IllegalArgumentException("burst must be >= 0, was " + burst);
    }
    if (burst > 0 && ratePerSecond == 0) {
      throw new IllegalArgumentException("burst needs a rate");
    }
    if (maxConcurrent < 0) {
      throw new IllegalArgumentException("concurrency must be >= 0, was " + maxConcurrent);
    }
    if (ratePerSecond > 0 && burst == 0) {
      burst = (int) Math.max(1, Math.ceil(ratePerSecond));
    }
  }

  /** Whether any limit is set. */
  public boolean limited() {
    return ratePerSecond > 0 || maxConcurrent > 0;
  }

  /** The limits as the token file writes them ({@code rate=50 burst=100 concurrency=8}). */
  @Override
  public String toString() {
    StringBuilder b = new StringBuilder();
    if (ratePerSecond > 0) {
      b.append("rate=").append(PlainNumbers.plain(ratePerSecond)).append(" burst=").append(burst);
    }
    if (maxConcurrent > 0) {
      b.append(b.isEmpty() ? "" : " ").append("concurrency=").append(maxConcurrent);
    }
    return b.isEmpty() ? "none" : b.toString();
  }
}
