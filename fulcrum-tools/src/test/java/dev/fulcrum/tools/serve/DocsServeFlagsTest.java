package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.tools.FulcrumCli;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * The {@code fulcrum serve} command lines the docs give (shell lines and inline code), the
 * container arguments of their manifests ({@code args: [serve, ...]}) and the image's {@code CMD}
 * name only flags {@code serve} has; the manifests' and the image's arguments parse as given.
 * docs/PERFORMANCE.md is a log of past sessions, left as written.
 */
class DocsServeFlagsTest {
  private static final List<String> DOCS =
      List.of(
          "README.md",
          "docs/DEPLOYMENT.md",
          "docs/METRICS.md",
          "docs/MODEL_CONFIG.md",
          "docs/MONITORING.md",
          "docs/DASHBOARD.md",
          "docs/TUNE.md",
          "docs/BENCHMARKING.md");

  /** {@code fulcrum serve} and the rest of its line, up to an inline code span's end. */
  private static final Pattern COMMAND = Pattern.compile("fulcrum serve\\b([^`\\n]*)");

  private static final Pattern FLAG = Pattern.compile("(?<![\\w-])--[a-z][a-z0-9-]*");

  /** A manifest's container arguments, or the image's exec-form CMD, beginning with serve. */
  private static final Pattern ARGS =
      Pattern.compile("(?:args:|CMD)\\s*\\[\\s*\"?serve\"?\\s*,([^\\]]*)\\]");

  private static CommandSpec serve() {
    return FulcrumCli.Picocli.commandLine().getSubcommands().get("serve").getCommandSpec();
  }

  @Test
  void everyFlagOfTheDocsServeCommandLinesExists() throws Exception {
    CommandSpec serve = serve();
    List<String> problems = new ArrayList<>();
    int flags = 0;
    for (String doc : DOCS) {
      String text = Files.readString(DeployArtifacts.ROOT.resolve(doc));
      Matcher command = COMMAND.matcher(joinContinuations(text));
      while (command.find()) {
        Matcher flag = FLAG.matcher(command.group(1));
        while (flag.find()) {
          flags++;
          if (!serve.optionsMap().containsKey(flag.group())) {
            problems.add(doc + ": `fulcrum serve" + command.group(1) + "`: no " + flag.group());
          }
        }
      }
    }
    assertThat(problems).isEmpty();
    assertThat(flags).as("flags found in the docs' command lines").isGreaterThan(30);
  }

  @Test
  void theManifestsAndTheImageArgumentsParseAsServeArguments() throws Exception {
    List<String> problems = new ArrayList<>();
    int found = 0;
    for (String doc : List.of("docs/DEPLOYMENT.md", "README.md")) {
      Matcher args = ARGS.matcher(Files.readString(DeployArtifacts.ROOT.resolve(doc)));
      while (args.find()) {
        found++;
        String[] arguments =
            Arrays.stream(args.group(1).split(","))
                .map(String::strip)
                .map(a -> a.replaceAll("^\"|\"$", ""))
                .toArray(String[]::new);
        try {
          new CommandLine(new ServeCommand()).parseArgs(arguments);
        } catch (CommandLine.ParameterException e) {
          problems.add(doc + ": serve " + String.join(" ", arguments) + ": " + e.getMessage());
        }
      }
    }
    assertThat(problems).isEmpty();
    assertThat(found).as("the image's CMD and the manifests' args").isGreaterThanOrEqualTo(4);
  }

  /** A shell line ending in a backslash joined with the next one. */
  private static String joinContinuations(String text) {
    return text.replaceAll("\\\\\\n", " ");
  }
}
