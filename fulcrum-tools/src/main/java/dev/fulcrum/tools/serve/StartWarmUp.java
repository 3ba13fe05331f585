package dev.fulcrum.tools.serve;

import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.ModelConfigLoader;
import java.nio.file.Path;

/**
 * Opt-in ({@code -Dfulcrum.start.warm=true}): while the main thread reads the command line (a
 * serial stretch of the start, with the second core mostly idle), initializes on a thread of its
 * own the classes the start's first steps initialize anyway: the configurations' YAML reading
 * (Jackson's and SnakeYAML's parsers, the plain mapper and its schema) and Netty's platform probe
 * (its FFM {@code malloc}/{@code free} linking). A class is initialized once, by whichever thread
 * comes first, so the steps that follow find them ready (docs/PERFORMANCE.md, "Cold start", session
 * 18). Nothing it makes is kept; a failure is left to the step that meets it. Runs once on its own
 * daemon thread.
 */
final class StartWarmUp {
  /** A configuration with the shapes the demo's have: scalars, a list of records, a nested one. */
  static final String SAMPLE =
      """
      max-batch-size: 1
      inputs: [{name: x, datatype: FP32, dims: [1]}]
      version-policy: {latest: 1}
      monitoring: {enabled: true, features: {x: [a]}}
      """;

  private StartWarmUp() {}

  /** Starts the warm-up when {@code -Dfulcrum.start.warm=true}; returns at once. */
  static void startIfAsked() {
    if (Boolean.getBoolean("fulcrum.start.warm")) {
      Thread.ofPlatform().name("fulcrum-start-warm").daemon().start(StartWarmUp::run);
    }
  }

  /** The warm-up itself, on the calling thread. */
  static void run() {
    try {
      new ModelConfigLoader().parse(SAMPLE, Path.of("config.yaml"));
    } catch (ConfigException | RuntimeException e) {
      // the models' start reads the real files and reports what fails there
    }
    try {
      Class.forName(
          "io.netty.util.internal.PlatformDependent", true, StartWarmUp.class.getClassLoader());
    } catch (ClassNotFoundException | RuntimeException | LinkageError e) {
      // the REST port's start meets it again
    }
  }
}
