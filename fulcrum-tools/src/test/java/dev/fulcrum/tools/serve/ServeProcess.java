package dev.fulcrum.tools.serve;

import dev.fulcrum.tools.FulcrumCli;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The command line of a {@code fulcrum serve} child process on the test's own class path, every
 * port chosen by the kernel, for the tests that need a whole process (signals, log output), and the
 * ports it logs once open; and the command line of any other {@code fulcrum} command as a child
 * process ({@link #fulcrum}). Stateless.
 */
public final class ServeProcess {
  /** The REST port's line in the log. */
  public static final Pattern HTTP_PORT =
      Pattern.compile("HTTP \\(Open Inference Protocol\\) on http://[^:]+:(\\d+)/v2");

  /** The gRPC port's line, up to the line's end: a line read half-written would cut the port. */
  static final Pattern GRPC_PORT =
      Pattern.compile("gRPC \\(Open Inference Protocol\\) on [^ ]+:(\\d+)\\R");

  /** The metrics port's line. */
  static final Pattern METRICS_PORT =
      Pattern.compile("Prometheus metrics on https?://[^:]+:(\\d+)/metrics");

  private ServeProcess() {}

  /** {@code java ... FulcrumCli serve --model-repository <repo>} with ports 0. */
  public static List<String> command(Path repo) {
    return command(repo, List.of());
  }

  /** {@link #command(Path)} followed by more {@code serve} arguments. */
  public static List<String> command(Path repo, List<String> more) {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> command =
        new ArrayList<>(
            List.of(
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
                "0"));
    command.addAll(more);
    return List.copyOf(command);
  }

  /**
   * {@code java <jvmOptions> ... FulcrumCli <args>} on the test's own class path: a command run as
   * a user runs it, with its own standard streams and heap.
   */
  public static List<String> fulcrum(List<String> jvmOptions, List<String> args) {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED"));
    command.addAll(jvmOptions);
    command.addAll(
        List.of("-cp", System.getProperty("java.class.path"), FulcrumCli.class.getName()));
    command.addAll(args);
    return List.copyOf(command);
  }

  /** The port a line of the server's log names, waiting up to 120 s for it. */
  public static int port(Path log, Pattern line) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < end) {
      Matcher m = line.matcher(Files.readString(log, StandardCharsets.UTF_8));
      if (m.find()) {
        return Integer.parseInt(m.group(1));
      }
      Thread.sleep(100);
    }
    throw new AssertionError("the server did not start:\n" + Files.readString(log));
  }
}
