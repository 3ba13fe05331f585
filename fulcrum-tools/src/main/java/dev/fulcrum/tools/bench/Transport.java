package dev.fulcrum.tools.bench;

import java.util.concurrent.CompletableFuture;

/**
 * Sends one pre-built request and reports how it ended; implementations are thread-safe and never
 * block the caller (the future completes on the transport's own threads).
 */
interface Transport extends AutoCloseable {

  /**
   * @param sample the index of a sample given to the transport when it was built
   * @return completes with the outcome, never exceptionally
   */
  CompletableFuture<Outcome> send(int sample);

  /** How many samples the transport was built with. */
  int samples();

  @Override
  void close();
}
