package dev.fulcrum.tools;

import dev.fulcrum.tools.bench.BenchCommand;
import dev.fulcrum.tools.embed.EmbedCommand;
import dev.fulcrum.tools.monitor.ProfileCommand;
import dev.fulcrum.tools.monitor.SkewCheckCommand;
import dev.fulcrum.tools.serve.ServeArgs;
import dev.fulcrum.tools.serve.ServeCommand;
import dev.fulcrum.tools.tune.TuneCommand;
import java.util.List;
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
      CommandLine.HelpCommand.class
    },
    footer = {"", "Run 'fulcrum <command> --help' for a command's options."})
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

  public static void main(String[] args) {
    // Before the first logger: slf4j-simple reads its level once (simplelogger.properties).
    String level = System.getenv("FULCRUM_LOG_LEVEL");
    if (level != null && System.getProperty(LOG_LEVEL_PROPERTY) == null) {
      System.setProperty(LOG_LEVEL_PROPERTY, level.toLowerCase(java.util.Locale.ROOT));
    }
    int code = -1;
    if (args.length > 0 && args[0].equals("serve") && !Boolean.getBoolean("fulcrum.cli.picocli")) {
      // Cold start: the common serve command line skips picocli (see ServeArgs); the property
      // turns that off, for A/B measurements (bench/coldstart.sh).
      ServeCommand serve = ServeArgs.parse(List.of(args).subList(1, args.length));
      if (serve != null) {
        code = ServeArgs.run(serve);
      }
    }
    if (code < 0) {
      code = new CommandLine(new FulcrumCli()).execute(args);
    }
    if (code != 0) {
      System.exit(code);
    }
  }
}
