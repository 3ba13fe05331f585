package dev.fulcrum.tools;

import java.io.PrintWriter;
import java.io.StringWriter;

/**
 * One in-process run of the {@code fulcrum} command line as {@code main} builds it: its exit status
 * and what it printed. The tests' shared runner for commands driven through the CLI.
 *
 * @param code the exit status
 * @param out what went to standard output
 * @param err what went to standard error
 */
public record CliRun(int code, String out, String err) {
  /** Runs {@code fulcrum args...}, its output captured. */
  public static CliRun of(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code =
        FulcrumCli.Picocli.commandLine()
            .setOut(new PrintWriter(out))
            .setErr(new PrintWriter(err))
            .execute(args);
    return new CliRun(code, out.toString(), err.toString());
  }
}
