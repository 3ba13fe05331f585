package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real SIGTERM sent before the JVM has started, as the launcher starts {@code serve}: with
 * SIGTERM and SIGINT held ({@code env --block-signal --ignore-signal}, {@value
 * TerminationSignals#HELD}). The signal is sent by the shell that then {@code exec}s the JVM, so it
 * is pending from the JVM's first instruction: no timing decides where it lands. Without the
 * launcher's hold such a signal killed the JVM (143) or failed its initialization; held and given
 * back, it reaches Fulcrum's handler before {@code serve} starts anything, and the process exits 0.
 */
class HeldSignalsTest {
  @TempDir Path repo;

  @Test
  void aSigtermPendingBeforeTheJvmStartedStopsServeWithZero() throws Exception {
    Run run = serveWithSignalSentBeforeTheJvm("TERM");

    assertThat(run.status()).as(run.output()).isZero();
    assertThat(run.output())
        .contains("stopped by a signal before the server started")
        .doesNotContain("Exception")
        .doesNotContain("SIGSEGV");
  }

  private record Run(int status, String output) {}

  // No SIGINT case: bash does not keep a SIGINT sent to itself pending (neither its kill builtin's
  // nor /usr/bin/kill's; it is discarded, being ignored); the JVM's side is the same code.
  private Run serveWithSignalSentBeforeTheJvm(String signal) throws Exception {
    assumeTrue(
        System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux"),
        "Linux: env --block-signal and the C calls that give the signals back");
    assumeTrue(
        new ProcessBuilder("env", "--block-signal=TERM", "true").start().waitFor() == 0,
        "GNU env 8.31+ (--block-signal)");
    Path log = repo.resolveSibling(repo.getFileName() + "-" + signal + ".log");
    // bash keeps the blocked mask it was started with (dash clears it); the signal it sends itself
    // stays pending through its exec of the JVM.
    String script = "kill -" + signal + " $$; exec \"$@\"";
    Process p =
        new ProcessBuilder(
                Stream.concat(
                        Stream.of(
                            "env",
                            "--block-signal=TERM,INT",
                            "--ignore-signal=TERM,INT",
                            TerminationSignals.HELD + "=1",
                            "bash",
                            "-c",
                            script,
                            "serve-under-test"),
                        ServeProcess.command(repo).stream())
                    .toList())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    // A server that missed the signal would run on (it ignores SIGTERM while held): bounded.
    boolean ended = p.waitFor(120, TimeUnit.SECONDS);
    if (!ended) {
      p.destroyForcibly().waitFor();
    }
    String out = Files.readString(log, StandardCharsets.UTF_8);
    return new Run(ended ? p.exitValue() : -1, out);
  }
}
