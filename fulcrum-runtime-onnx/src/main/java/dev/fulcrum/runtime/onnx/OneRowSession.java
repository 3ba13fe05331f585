package dev.fulcrum.runtime.onnx;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.fulcrum.core.runtime.ModelLoadException;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An instance's second session for its passes of one row ({@code intra-op-threads-one-row}), made
 * the first time a pass of one row needs it, on a thread of its own, instead of at load.
 *
 * <p>Why not at load: a second session of the model doubles what loading it costs (MiniLM's session
 * is a few hundred milliseconds of CPU), on the two cores the start shares with every other model's
 * load and the first answers, and it costs its memory in a server that never sees a lone row. Until
 * it is made, passes of one row run on the instance's own session, as they would without the
 * setting; a session that cannot be made is logged once and never tried again.
 *
 * <p>Concurrency: {@link #get} is called by the instance's engine thread (one at a time); the
 * creator thread publishes the session once through a volatile; {@link #close} (once no pass runs)
 * waits for a creation under way, so no session is made after it returns and none outlives the
 * instance.
 */
final class OneRowSession implements AutoCloseable {

  /** Makes the session; called once, on the creator thread. */
  @FunctionalInterface
  interface Factory {
    OrtSession create() throws ModelLoadException;
  }

  private static final Logger log = LoggerFactory.getLogger(OneRowSession.class);

  private final Factory factory;
  private final String name;

  /** The session once made, until closed. */
  private volatile @Nullable OrtSession session;

  /** Guarded by this: whether the creation started, whether closed, the creating thread. */
  private boolean started;

  private boolean closed;
  private @Nullable Thread creator;

  /**
   * @param name what the creator thread and the log call it (the model file)
   */
  OneRowSession(Factory factory, String name) {
    this.factory = factory;
    this.name = name;
  }

  /**
   * The session when made; otherwise null, and the first call starts making it. A pass that gets
   * null runs on the instance's own session.
   */
  @Nullable OrtSession get() {
    OrtSession s = session;
    if (s == null) {
      startOnce();
    }
    return s;
  }

  private synchronized void startOnce() {
    if (started || closed) {
      return;
    }
    started = true;
    creator = Thread.ofPlatform().daemon().name("fulcrum-one-row-" + name).start(this::create);
  }

  private void create() {
    OrtSession made;
    try {
      made = factory.create();
    } catch (ModelLoadException | RuntimeException e) {
      log.warn(
          "the session for passes of one row of {} could not be made; they run on the instance's"
              + " session: {}",
          name,
          e.getMessage());
      return;
    }
    synchronized (this) {
      if (!closed) {
        session = made;
        return;
      }
    }
    closeQuietly(made);
  }

  /** Waits up to {@code millis} for the session (tests); whether it is made. */
  boolean awaitMade(long millis) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    while (session == null && System.nanoTime() < end) {
      Thread t;
      synchronized (this) {
        t = creator;
      }
      if (t == null) {
        Thread.sleep(1);
      } else {
        t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime())));
      }
    }
    return session != null;
  }

  /**
   * Closes the session; a creation under way is waited for first (no native call outlives this).
   */
  @Override
  public void close() throws OrtException {
    Thread t;
    synchronized (this) {
      closed = true;
      t = creator;
    }
    if (t != null) {
      boolean interrupted = false;
      while (t.isAlive()) {
        try {
          t.join();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    OrtSession s;
    synchronized (this) {
      s = session;
      session = null;
    }
    if (s != null) {
      s.close();
    }
  }

  private void closeQuietly(OrtSession s) {
    try {
      s.close();
    } catch (OrtException e) {
      log.warn("closing the unused session for passes of one row of {}: {}", name, e.getMessage());
    }
  }
}
