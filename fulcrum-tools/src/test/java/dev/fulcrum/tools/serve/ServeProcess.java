package dev.fulcrum.tools.serve;

import dev.fulcrum.tools.FulcrumCli;
import java.nio.file.Path;
import java.util.List;

/**
 * The command line of a {@code fulcrum serve} child process on the test's own class path, every
 * port chosen by the kernel, for the tests that need a whole process (signals, log output).
 * Stateless.
 */
final class ServeProcess {
  private ServeProcess() {}

  /** {@code java ... FulcrumCli serve --model-repository <repo>} with ports 0. */
  static List<String> command(Path repo) {
    String java = ProcessHandle.current().info().command().orElse("java");
    return List.of(
        java,
        "--enable-native-access=ALL-UNNAMED",
        "-cp",
        System.getProperty("java.class.path"),
        FulcrumCli.class.getName(),
        "serve",
        "--model-repository",
        repo.toString(),
        "--http-port",
        "0",
        "--grpc-port",
        "0",
        "--metrics-port",
        "0");
  }
}
