package dev.fulcrum.tools.log;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.server.logging.LogSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;

class LineLevelsTest {
  private static final String P = LineLogConfig.PREFIX;

  private static LogSettings verbose(LogSettings s, int level) {
    return new LogSettings(s.logFile(), s.info(), s.warning(), s.error(), level, s.format());
  }

  @Test
  void theStartLevelsAreTheDefaultLevelsInTritonsWords() {
    LogSettings info = new LineLevels(LineLogConfig.of(Map.<String, String>of()::get)).settings();
    assertThat(info).isEqualTo(new LogSettings("", true, true, true, 0, "default"));
    LogSettings debug =
        new LineLevels(LineLogConfig.of(Map.of(P + "defaultLogLevel", "debug")::get)).settings();
    assertThat(debug.verboseLevel()).isEqualTo(1);
    LogSettings warn =
        new LineLevels(
                LineLogConfig.of(
                    Map.of(P + "defaultLogLevel", "warn", P + "logFile", "/var/log/f.log")::get))
            .settings();
    assertThat(warn).isEqualTo(new LogSettings("/var/log/f.log", false, true, true, 0, "default"));
  }

  @Test
  void aChangeAppliesToLoggersMadeBeforeItAndLoggersWithALevelOfTheirOwnNeedOneMore(
      @TempDir Path dir) throws Exception {
    Path file = dir.resolve("log.txt");
    LineLoggerFactory factory =
        new LineLoggerFactory(
            LineLogConfig.of(
                Map.of(
                        P + "logFile", file.toString(),
                        P + "showThreadName", "false",
                        P + "log.io.netty", "warn")
                    ::get));
    Logger ours = factory.getLogger("dev.fulcrum.server.X");
    Logger netty = factory.getLogger("io.netty.Y");
    ours.debug("before");
    assertThat(ours.isDebugEnabled()).isFalse();

    LineLevels levels = factory.levels();
    levels.apply(verbose(levels.settings(), 1));
    ours.debug("after");
    assertThat(netty.isDebugEnabled()).isFalse();
    assertThat(netty.isInfoEnabled()).isFalse(); // its own WARN stays a floor
    levels.apply(verbose(levels.settings(), 2));
    assertThat(netty.isDebugEnabled()).isTrue();
    assertThat(ours.isTraceEnabled()).isTrue();

    levels.apply(new LogSettings("", false, false, true, 0, "default"));
    ours.info("no info");
    ours.warn("no warn");
    ours.error("an error");
    assertThat(Files.readAllLines(file))
        .containsExactly(
            "DEBUG dev.fulcrum.server.X - after", "ERROR dev.fulcrum.server.X - an error");
  }
}
