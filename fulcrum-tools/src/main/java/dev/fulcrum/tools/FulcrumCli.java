package dev.fulcrum.tools;

import dev.fulcrum.core.config.Typos;
import dev.fulcrum.tools.bench.BenchCommand;
import dev.fulcrum.tools.embed.EmbedCommand;
import dev.fulcrum.tools.monitor.ProfileCommand;
import dev.fulcrum.tools.monitor.SkewCheckCommand;
import dev.fulcrum.tools.predict.PredictCommand;
import dev.fulcrum.tools.serve.ServeArgs;
import dev.fulcrum.tools.serve.ServeCommand;
import dev.fulcrum.tools.tune.TuneCommand;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code fulcrum} command line: one entry point for the server and its tools. */
@Command(
    name = "fulcrum",
    mixinStandardHelpOptions = true,
    versionProvider = FulcrumCli.Version.class,
    description = {
      "Fulcrum: a model inference server that keeps the latency, throughput and cost you state.",
      ""
    },
    subcommands = {
      ServeCommand.class,
      BenchCommand.class,
      TuneCommand.class,
      ProfileCommand.class,
      SkewCheckCommand.class,
      EmbedCommand.class,
      PredictCommand.class,
      CommandLine.HelpCommand.class
    },
    footer = {
      "",
      "Run 'fulcrum <command> --help' for a command's options.",
      "The ./fulcrum launcher also runs './fulcrum test' (the test suite) and",
      "'./fulcrum aot' (trains the JDK's AOT cache of this build)."
    })
public final class FulcrumCli {
  private static final String LOG_LEVEL_PROPERTY = "org.slf4j.simpleLogger.defaultLogLevel";

  /** Reads the version from the jar manifest (set by Maven), falling back to "dev". */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = FulcrumCli.class.getPackage().getImplementationVersion();
      return new String[] {"fulcrum " + (v == null ? "dev" : v)};
    }
  }

  /**
   * Where the picocli command line is built. A class of its own because the launcher checks {@code
   * main} by reflecting FulcrumCli's public methods before {@code main()} runs, which loads every
   * type in their signatures: a public method of FulcrumCli returning {@code CommandLine} loaded
   * picocli's 72 KB {@code CommandLine} from its jar (class-file version 49, which no AOT cache
   * holds) on the main thread of every start, before {@code main()} (docs/PERFORMANCE.md, "Cold
   * start", session 20).
   */
  public static final class Picocli {
    private Picocli() {}

    /**
     * The command line with one rule for errors a user causes: a command that fails on a file it
     * was given (an {@link IOException}: missing, unreadable, a CSV without a column the model
     * needs) prints {@code fulcrum <command>: <message>} on one line, saying what is wrong with the
     * file, and exits 2, as picocli does for a wrong option (1 stays a command's own verdict:
     * skew-check's drift, bench's failed requests); anything else keeps picocli's stack trace,
     * which is then a defect to report.
     */
    public static CommandLine commandLine() {
      CommandLine root = new CommandLine(new FulcrumCli());
      // Every command lists -V, --version (mixinStandardHelpOptions), but only the root had a
      // version provider: `fulcrum serve --version` printed nothing and exited 0.
      for (CommandLine sub : root.getSubcommands().values()) {
        if (sub.getCommandSpec().versionProvider() == null) {
          sub.getCommandSpec().versionProvider(new Version());
        }
      }
      return root.setParameterExceptionHandler((e, args) -> usageError(e, root.getErr()))
          .setExecutionExceptionHandler(
              (e, cl, parsed) -> {
                Throwable cause = e instanceof UncheckedIOException u ? u.getCause() : e;
                if (cause instanceof IOException io) {
                  cl.getErr().println("fulcrum " + cl.getCommandName() + ": " + describe(io));
                  cl.getErr().flush();
                  return 2;
                }
                throw e;
              });
    }
  }

  /**
   * A usage error as the range checks print it: the reason, a suggestion for a mistyped option or
   * command, and where the options are ({@code Run 'fulcrum serve --help' ...}) instead of the
   * whole usage, which buried the one line that matters under a few hundred; {@code err}: the root
   * command line's.
   */
  static int usageError(CommandLine.ParameterException e, PrintWriter err) {
    // err: the root's, where picocli's own messages go (a command's own check may throw with a
    // CommandLine of its own, whose err is System.err).
    CommandLine cl = e.getCommandLine();
    List<String> unknownOptions = new ArrayList<>();
    if (e instanceof CommandLine.UnmatchedArgumentException u) {
      for (String arg : u.getUnmatched()) {
        if (arg.startsWith("-") && !arg.matches("-[0-9.]+")) {
          unknownOptions.add(arg);
        }
      }
    }
    if (unknownOptions.isEmpty()) {
      err.println(e.getMessage());
      CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
    } else {
      for (String arg : unknownOptions) {
        err.println("Unknown option: '" + arg + "'" + suggestion(arg, cl.getCommandSpec()));
      }
    }
    // A command's own checks throw with a CommandLine of their own (serve's, made without
    // picocli): its name is then the command's alone.
    String name = cl.getCommandSpec().qualifiedName();
    err.println(
        "Run '"
            + (name.startsWith("fulcrum") ? name : "fulcrum " + name)
            + " --help' for its"
            + " options.");
    err.flush();
    return cl.getCommandSpec().exitCodeOnInvalidInput();
  }

  /**
   * {@code ; did you mean --http-port?} for a mistyped option: the command's options a slip of a
   * letter or two away, or whose name holds the typed one as a word ({@code --port}: {@code
   * --http-port}, {@code --grpc-port}, {@code --metrics-port}), closest first; empty when none.
   */
  static String suggestion(String typed, CommandLine.Model.CommandSpec spec) {
    int eq = typed.indexOf('=');
    String name = (eq < 0 ? typed : typed.substring(0, eq)).replaceFirst("^-+", "");
    String lower = name.toLowerCase(Locale.ROOT);
    record Candidate(String option, int distance, int order) {}
    List<Candidate> candidates = new ArrayList<>();
    int order = 0;
    for (CommandLine.Model.OptionSpec o : spec.options()) {
      if (o.hidden()) {
        continue;
      }
      order++;
      String longest = o.longestName();
      if (!longest.startsWith("--")) {
        continue;
      }
      String bare = longest.substring(2);
      int d = Typos.distance(lower, bare);
      boolean asWord =
          lower.length() >= 3 && List.of(bare.split("-")).containsAll(List.of(lower.split("-")));
      // A shortened name (--model-repo for --model-repository): picocli takes no abbreviations.
      boolean prefix = lower.length() >= 4 && bare.startsWith(lower);
      if (Typos.isSlip(lower, d) || asWord || prefix) {
        candidates.add(new Candidate(longest, d, order));
      }
    }
    if (candidates.isEmpty()) {
      return "";
    }
    candidates.sort(
        Comparator.comparingInt(Candidate::distance).thenComparingInt(Candidate::order));
    List<String> names = candidates.stream().limit(3).map(Candidate::option).toList();
    return "; did you mean "
        + names.get(0)
        + "?"
        + (names.size() > 1
            ? " (or " + String.join(", ", names.subList(1, names.size())) + ")"
            : "");
  }

  /** A file error as a user reads it: the JDK's messages of these are the path alone. */
  static String describe(IOException e) {
    if (e instanceof java.nio.file.NoSuchFileException n) {
      return "no such file or folder: " + n.getFile();
    }
    if (e instanceof java.nio.file.AccessDeniedException a) {
      return "permission denied: " + a.getFile();
    }
    if (e instanceof java.nio.file.NotDirectoryException d) {
      return "not a folder: " + d.getFile();
    }
    if (e instanceof java.nio.file.FileAlreadyExistsException f) {
      return "already exists: " + f.getFile();
    }
    if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
      return f.getFile() + ": " + f.getReason();
    }
    // Never "null": some JDK exceptions (ConnectException) carry no message.
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  public static void main(String[] args) {
    boolean serving = args.length > 0 && args[0].equals("serve");
    if (serving) {
      ServeArgs.takeStopSignals(); // first: until this, SIGTERM exits 143
    }
    // Before the first logger: slf4j-simple reads its level once (simplelogger.properties).
    String level = System.getenv("FULCRUM_LOG_LEVEL");
    if (level != null && System.getProperty(LOG_LEVEL_PROPERTY) == null) {
      System.setProperty(LOG_LEVEL_PROPERTY, level.toLowerCase(java.util.Locale.ROOT));
    }
    int code = -1;
    if (serving && !Boolean.getBoolean("fulcrum.cli.picocli")) {
      // Cold start: the common serve command line skips picocli (see ServeArgs); the property
      // turns that off, for A/B measurements (bench/coldstart.sh).
      ServeCommand serve = ServeArgs.parse(List.of(args).subList(1, args.length));
      if (serve != null) {
        code = ServeArgs.run(serve);
      }
    }
    if (code < 0) {
      code = Picocli.commandLine().execute(args);
    }
    if (code != 0) {
      System.exit(code);
    }
  }
}
