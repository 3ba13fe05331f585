package dev.fulcrum.tools.serve;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.List;
import org.slf4j.Logger;
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
 * <p>{@code sun.misc.Signal} (module {@code jdk.unsupported}, exported to every class) is reached
 * by reflection because javac reports any direct use as a warning that cannot be suppressed, and
 * the build treats warnings as errors. The handler runs on the JVM's signal dispatcher thread and
 * must return quickly. Stateless; thread-safe.
 */
final class TerminationSignals {
  private static final Logger log = LoggerFactory.getLogger(TerminationSignals.class);

  private TerminationSignals() {}

  /**
   * Makes SIGTERM and SIGINT run {@code action} (on the signal dispatcher thread) instead of
   * exiting. Returns false, having changed nothing, when this JVM has no {@code sun.misc.Signal}.
   */
  static boolean route(Runnable action) {
    try {
      handle(List.of("TERM", "INT"), action, "fulcrum-shutdown signal handler");
      return true;
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      log.warn(
          "cannot handle SIGTERM/SIGINT ({}); shutdown runs in a JVM shutdown hook, alongside"
              + " ONNX Runtime's own",
          e.toString());
      return false;
    }
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
      log.warn("cannot handle SIGHUP ({}); it stops the server as the JVM's default", e.toString());
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
      handle.invoke(null, signalType.getConstructor(String.class).newInstance(signal), handler);
    }
  }
}
