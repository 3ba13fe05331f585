package dev.fulcrum.tools.serve;

import java.util.Locale;

/**
 * What {@code serve --onnx-global-intra-op-threads} asks for: ONNX Runtime's process-wide intra-op
 * pool of a given size, none (0: a pool per session, sized by the model's {@code
 * intra-op-threads}), or {@code auto}: the shared pool, sized to the machine, once the model
 * repositories hold {@value #MANY_MODELS} models or more, none below that.
 *
 * <p>Why auto is the default: a model's default {@code intra-op-threads} is the machine's cores,
 * and each session of more than one thread gets a pool of its own, so the threads grew as models ×
 * cores (a model per tenant: 300 demo fraud models on 2 cores took 637 threads (338 shared), on 64
 * cores they would ask for ~19,000). A repository of a few models (the demo's three) keeps its own
 * pools, as measured throughout docs/PERFORMANCE.md.
 *
 * <p>Immutable; thread-safe.
 *
 * @param threads the pool's threads when given as a number (0: off); unused when {@code auto}
 * @param auto whether the pool depends on the repositories' model count
 */
record GlobalIntraOpThreads(int threads, boolean auto) {

  /** From this many models in the repositories, {@code auto} shares one pool. */
  static final int MANY_MODELS = 16;

  GlobalIntraOpThreads {
    if (threads < 0 || threads > 1024) {
      throw new IllegalArgumentException(
          "--onnx-global-intra-op-threads must be auto or 0..1024 (0: off), was " + threads);
    }
  }

  /**
   * The option's value: {@code auto}, or a number of threads 0..1024.
   *
   * @throws IllegalArgumentException naming the option, for anything else
   */
  static GlobalIntraOpThreads parse(String value) {
    String v = value.trim();
    if (v.toLowerCase(Locale.ROOT).equals("auto")) {
      return new GlobalIntraOpThreads(0, true);
    }
    int n;
    try {
      n = Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "--onnx-global-intra-op-threads must be auto or 0..1024 (0: off), was \"" + value + "\"",
          e);
    }
    return new GlobalIntraOpThreads(n, false);
  }

  /**
   * The shared pool's threads for a server whose repositories hold {@code models} models on {@code
   * cores} cores, or 0 for a pool per session. Auto on one core: 0 (every model's default is then
   * one intra-op thread, which runs on its engine thread with no pool at all).
   */
  int threadsFor(int models, int cores) {
    if (!auto) {
      return threads;
    }
    return models >= MANY_MODELS && cores > 1 ? Math.min(cores, 1024) : 0;
  }
}
