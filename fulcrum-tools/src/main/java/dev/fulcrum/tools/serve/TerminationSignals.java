package dev.fulcrum.tools.serve;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes SIGTERM and SIGINT to Fulcrum's own shutdown instead of the JVM's exit sequence.
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
                case "toString" -> "fulcrum-shutdown signal handler";
                default -> throw new UnsupportedOperationException(method.getName());
              };
      Object handler =
          Proxy.newProxyInstance(
              TerminationSignals.class.getClassLoader(), new Class<?>[] {handlerType}, calls);
      Method handle = signalType.getMethod("handle", signalType, handlerType);
      for (String name : List.of("TERM", "INT")) {
        handle.invoke(null, signalType.getConstructor(String.class).newInstance(name), handler);
      }
      return true;
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      log.warn(
          "cannot handle SIGTERM/SIGINT ({}); shutdown runs in a JVM shutdown hook, alongside"
              + " ONNX Runtime's own",
          e.toString());
      return false;
    }
  }
}
