package dev.fulcrum.tools;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Every command's help as a user reads it: no Java names, no lines broken by picocli's wrap. */
class HelpTextTest {
  /** A picocli default label, a field's name in angle brackets ({@code <httpThreads>}). */
  private static final Pattern FIELD_LABEL = Pattern.compile("=<[a-z][A-Za-z]*>");

  private static List<CommandLine> commands() {
    List<CommandLine> all = new ArrayList<>();
    CommandLine root = FulcrumCli.Picocli.commandLine();
    all.add(root);
    all.addAll(root.getSubcommands().values());
    return all;
  }

  @Test
  void optionLabelsAreWordsNotFieldNames() {
    for (CommandLine c : commands()) {
      String help = c.getUsageMessage();
      assertThat(FIELD_LABEL.matcher(help).results().map(m -> m.group()).toList())
          .as(c.getCommandName())
          .isEmpty();
    }
  }

  @Test
  void descriptionAndFooterLinesFitTheWidthUnbroken() {
    // picocli wraps each line at 80 by itself: a line of several (tune's description) left an
    // orphan word on a line of its own, and an example was broken inside an argument. A
    // description of one paragraph is wrapped between its words, as it should be.
    for (CommandLine c : commands()) {
      CommandLine.Model.UsageMessageSpec u = c.getCommandSpec().usageMessage();
      List<String> lines = new ArrayList<>(List.of(u.footer()));
      if (java.util.Arrays.stream(u.description()).filter(l -> !l.isBlank()).count() > 1) {
        lines.addAll(List.of(u.description()));
      }
      for (String line : lines) {
        assertThat(line.length()).as(c.getCommandName() + ": " + line).isLessThan(80);
      }
    }
  }

  @Test
  void noTokenIsBrokenAtADot() {
    // picocli may wrap after a '.' or '/' inside a word: "-Dfulcrum." / "transport", "~/." /
    // "cache/...", "net." / "core.somaxconn". A wrapped line that ends so and is continued in
    // lower case (an option's description continues indented) is such a break; "e.g." is not.
    Pattern brokenEnd = Pattern.compile(".*[\\w~-][./]$");
    for (CommandLine c : commands()) {
      List<String> lines = c.getUsageMessage().lines().toList();
      for (int i = 0; i + 1 < lines.size(); i++) {
        String line = lines.get(i).stripTrailing();
        String next = lines.get(i + 1);
        boolean continued = next.startsWith("          ") && next.strip().matches("[a-z0-9].*");
        if (continued && brokenEnd.matcher(line).matches() && !line.endsWith("e.g.")) {
          throw new AssertionError(
              c.getCommandName() + ": a token broken at a dot:\n" + line + "\n" + next);
        }
      }
    }
  }
}
