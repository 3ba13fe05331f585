package dev.fulcrum.tools.serve;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;

/**
 * Routes SIGTERM and SIGINT to Fulcrum's own shutdown instead of the JVM's exit sequence, and
 * SIGHUP to a reload ({@link HangupRescan}) instead of the JVM's exit.
 *
 * <p>Why: ONNX Runtime's Java binding registers a JVM shutdown hook of its own in {@code
 * OrtEnvironment}'s constructor (an {@code OrtEnvCloser} thread that releases the native
 * environment), and offers no way to remove it. JVM shutdown hooks run concurrently in no set
 * order, so on a plain SIGTERM that hook frees the environment while Fulcrum's hook is still
 * draining: an engine thread inside {@code OrtSession.run}, or a loader inside {@code
 * createSession}, then crashes the JVM (SIGSEGV in libonnxruntime). Handling the signal ourselves
 * keeps the JVM's exit sequence — and so ORT's hook — from starting until the drain has closed
 * every session; the action then calls {@code System.exit}, and ORT's hook releases an environment
 * nothing uses any more.
 *
 * <p>The handler is installed by {@link #early} as {@code main} begins, before the command line is
 * parsed and the logger set up. A signal that comes before {@link #route} gives the action is
 * remembered, and {@code route} says so: the server has started nothing and stops with 0.
 *
 * <p>The JVM's own start, before {@code main} (0.1-0.4 s on a busy 2-core machine), is covered by
 * the launcher, not here: before {@code main} a SIGTERM killed the process (143), or made the JDK
 * exit 143 from its own handler, or failed the JVM's initialization ("Bad level", exit 1); as PID 1
 * of a container the kernel even drops it while no handler is installed. So {@code fulcrum serve}
 * starts the JVM with SIGTERM and SIGINT <em>held</em>: blocked and ignored ({@code env
 * --block-signal --ignore-signal}, marked by {@value #HELD}). A blocked signal is kept pending,
 * ignored or not, across {@code exec}; HotSpot leaves an ignored SIGTERM/SIGINT blocked in all its
 * threads and installs no handler for it. {@link #early} gives them back ({@link HeldSignals}): the
 * handler first, then one thread of ours unblocks them, so that a signal pending since the JVM
 * started reaches {@link Stop} before {@link #route} looks, and the server stops with 0 without
 * starting anything.
 *
 * <p>{@code sun.misc.Signal} (module {@code jdk.unsupported}, exported to every class) is reached
 * by reflection because javac reports any direct use as a warning that cannot be suppressed, and
 * the build treats warnings as errors. The handler runs on the JVM's signal dispatcher thread and
 * must return quickly. Thread-safe: the action and whether a signal came before it are guarded by
 * {@link #STOP}'s lock, whether the handler is installed by the class's.
 */
final class TerminationSignals {
  private TerminationSignals() {}

  /**
   * The environment variable by which the launcher says that it started the JVM with SIGTERM and
   * SIGINT blocked and ignored ({@code 1}); {@link #early} then gives them back.
   */
  static final String HELD = "FULCRUM_SIGNALS_HELD";

  /** Where SIGTERM and SIGINT go: the action once given, else remembered. */
  static final class Stop {
    private @Nullable Runnable action;
    private boolean early;

    /** A stop signal: runs the action, or remembers the signal until there is one. */
    void signal() {
      Runnable a;
      synchronized (this) {
        a = action;
        if (a == null) {
          early = true;
          noteEarly();
          return;
        }
      }
      a.run();
    }

    /**
     * Gives the action of the signals from now on; true when one came before (it is not run: the
     * caller stops instead of starting).
     */
    synchronized boolean give(Runnable a) {
      action = a;
      return early;
    }

    /** Waits until a signal came before the action, at most {@code millis}; whether one did. */
    synchronized boolean awaitEarly(long millis) throws InterruptedException {
      long end = System.nanoTime() + millis * 1_000_000;
      long left;
      while (!early && (left = end - System.nanoTime()) > 0) {
        wait(Math.max(1, left / 1_000_000));
      }
      return early;
    }

    private synchronized void noteEarly() {
      notifyAll();
    }
  }

  private static final Stop STOP = new Stop();

  /** Whether the first install has run; guarded by the class's lock. */
  private static boolean tried;

  /**
   * Why {@link #STOP} does not handle SIGTERM and SIGINT (the exception's class and message), or
   * null when it does; set once, by the first install, and guarded by the class's lock.
   */
  private static @Nullable String cannot;

  /**
   * Makes SIGTERM and SIGINT reach {@link #route}'s action (remembered until there is one) instead
   * of exiting; quietly does nothing when it cannot (no logger is set up yet: {@link #route} says
   * why), except where the launcher held them and they cannot be given back: then it ends the
   * process with 1. For {@code main}, before anything else.
   */
  static void early() {
    try {
      install();
    } catch (IllegalStateException e) {
      // no logger yet; a server that ignored SIGTERM could only be stopped by SIGKILL
      System.err.println("fulcrum: " + e.getMessage());
      System.exit(1);
    }
  }

  /**
   * Installs the handler once; null when it handles the signals, else why it cannot. Where the
   * launcher held them ({@value #HELD}), gives them back first, and waits for a signal that was
   * pending to reach {@link #STOP}.
   *
   * @throws IllegalStateException where the launcher held them and they cannot be given back: the
   *     server would ignore every SIGTERM, so it must not start
   */
  private static synchronized @Nullable String install() {
    if (!tried) {
      tried = true;
      boolean held = "1".equals(System.getenv(HELD));
      try {
        if (held) {
          HeldSignals.release(
              () -> handle(List.of("TERM", "INT"), STOP::signal, "fulcrum-shutdown signal handler"),
              STOP);
        } else {
          handle(List.of("TERM", "INT"), STOP::signal, "fulcrum-shutdown signal handler");
        }
      } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
        cannot = e.toString();
        if (held) {
          throw new IllegalStateException(
              "the launcher started the JVM with SIGTERM and SIGINT blocked ("
                  + HELD
                  + "=1) and they cannot be given back ("
                  + cannot
                  + "); start it without "
                  + HELD,
              e);
        }
      }
    }
    return cannot;
  }

  /** What {@link #route} found. */
  enum Routed {
    /** SIGTERM and SIGINT run the action from now on. */
    ROUTED,
    /** As ROUTED, and one came before: nothing has started, the caller should stop now. */
    ALREADY_SIGNALLED,
    /** They cannot be handled here (logged): a JVM shutdown hook is the only way. */
    UNAVAILABLE
  }

  /**
   * Makes SIGTERM and SIGINT run {@code action} (on the signal dispatcher thread) instead of
   * exiting; UNAVAILABLE, having changed nothing, when this JVM cannot (no {@code sun.misc.Signal},
   * or {@code -Xrs}).
   */
  static Routed route(Runnable action) {
    String why = install();
    if (why != null) {
      LoggerFactory.getLogger(TerminationSignals.class)
          .warn(
              "cannot handle SIGTERM/SIGINT ({}); shutdown runs in a JVM shutdown hook, alongside"
                  + " ONNX Runtime's own",
              why);
      return Routed.UNAVAILABLE;
    }
    return STOP.give(action) ? Routed.ALREADY_SIGNALLED : Routed.ROUTED;
  }

  /**
   * Makes SIGHUP run {@code action} (on the signal dispatcher thread) instead of stopping the JVM
   * (its default: exit 129 through the shutdown hooks). Returns false, having changed nothing, when
   * it cannot (no {@code sun.misc.Signal}, or {@code -Xrs}). Under {@code nohup}, where SIGHUP is
   * ignored, the JVM leaves it ignored and {@code action} never runs.
   */
  static boolean onHangup(Runnable action) {
    try {
      handle(List.of("HUP"), action, "fulcrum-reload signal handler");
      return true;
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      LoggerFactory.getLogger(TerminationSignals.class)
          .warn(
              "cannot handle SIGHUP ({}); it stops the server as the JVM's default", e.toString());
      return false;
    }
  }

  private static void handle(List<String> signals, Runnable action, String name)
      throws ReflectiveOperationException {
    Class<?> signalType = Class.forName("sun.misc.Signal");
    Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
    @SuppressWarnings("ReferenceEquality") // a proxy equals only itself
    InvocationHandler calls =
        (proxy, method, args) ->
            switch (method.getName()) {
              case "handle" -> {
                action.run();
                yield null;
              }
              case "hashCode" -> System.identityHashCode(proxy);
              case "equals" -> proxy == args[0];
              case "toString" -> name;
              default -> throw new UnsupportedOperationException(method.getName());
            };
    Object handler =
        Proxy.newProxyInstance(
            TerminationSignals.class.getClassLoader(), new Class<?>[] {handlerType}, calls);
    Method handle = signalType.getMethod("handle", signalType, handlerType);
    for (String signal : signals) {
      Object which = signalType.getConstructor(String.class).newInstance(signal);
      try {
        handle.invoke(null, which, handler);
      } catch (InvocationTargetException e) {
        // Signal.handle's own refusal ("Signal already used by VM or OS: SIGTERM" under -Xrs): the
        // reason the warning gives, not its reflective wrapper, whose text is empty.
        if (e.getCause() instanceof RuntimeException refused) {
          throw refused;
        }
        throw e;
      }
    }
  }
}
