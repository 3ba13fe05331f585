package dev.fulcrum.tools.bench;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;

/**
 * One {@code fulcrum bench} run in process, its output and errors captured (picocli's own messages,
 * usage errors and exceptions, go to the same error stream): the bench tests' shared runner.
 */
record BenchRun(int exit, String out, String err) {
  static BenchRun of(String... args) {
    BenchCommand cmd = new BenchCommand();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
    cmd.err = new PrintStream(err, true, StandardCharsets.UTF_8);
    int exit = new CommandLine(cmd).setErr(new PrintWriter(cmd.err, true)).execute(args);
    return new BenchRun(
        exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }
}
