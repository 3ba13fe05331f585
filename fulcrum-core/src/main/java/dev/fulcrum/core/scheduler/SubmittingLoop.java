package dev.fulcrum.core.scheduler;

import java.util.concurrent.Executor;

/**
 * The executor a transport's event loop offers for the answers of the requests it submits, when a
 * task it is given from its own thread runs later on that same thread, after the events the loop is
 * handling now (a turn's reads), without waking anything: a Netty event loop. The scheduler then
 * defers a lone pass to the end of the loop's turn ({@link ModelScheduler}: turn passes), so that
 * the requests one turn reads join one pass. One per loop (passes group answers by identity).
 *
 * <p>Threads: {@link #inLoop} is called on any thread; {@link #execute} as any executor's.
 */
public interface SubmittingLoop extends Executor {
  /** Whether the calling thread is this loop's own thread. */
  boolean inLoop();
}
