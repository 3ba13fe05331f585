package dev.fulcrum.core.tenant;

import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * What one tenant spent on one model since the server started: requests by {@link Outcome},
 * predictions (rows answered), compute seconds (each request's share of the passes it rode) and
 * cost in USD (the request's {@code cost_usd}). Counters only ever grow, so a poller may difference
 * two readings.
 *
 * <p>Threads: lock-free adders; any thread records, any thread reads (a reading taken while
 * requests complete may hold some of their counters and not yet others).
 */
public final class ModelUsage {
  private final Map<Outcome, LongAdder> requests = new EnumMap<>(Outcome.class);
  private final LongAdder predictions = new LongAdder();
  private final DoubleAdder computeSeconds = new DoubleAdder();
  private final DoubleAdder costUsd = new DoubleAdder();

  ModelUsage() {
    for (Outcome o : Outcome.values()) {
      requests.put(o, new LongAdder());
    }
  }

  void count(Outcome outcome) {
    adder(outcome).increment();
  }

  void answered(int rows, double seconds, double cost) {
    adder(Outcome.SUCCESS).increment();
    predictions.add(rows);
    if (seconds > 0) {
      computeSeconds.add(seconds);
    }
    if (cost > 0) {
      costUsd.add(cost);
    }
  }

  /** Requests that ended with {@code outcome}. */
  public long requests(Outcome outcome) {
    return adder(outcome).sum();
  }

  private LongAdder adder(Outcome outcome) {
    return Objects.requireNonNull(requests.get(outcome));
  }

  /** Rows answered. */
  public long predictions() {
    return predictions.sum();
  }

  /** The tenant's share of the model's compute, in seconds. */
  public double computeSeconds() {
    return computeSeconds.sum();
  }

  /** What the answered requests cost, in USD (0 without a price). */
  public double costUsd() {
    return costUsd.sum();
  }
}
