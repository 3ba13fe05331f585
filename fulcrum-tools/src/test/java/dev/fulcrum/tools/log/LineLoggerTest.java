package dev.fulcrum.tools.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.text.SimpleDateFormat;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TimeZone;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.spi.SLF4JServiceProvider;

class LineLoggerTest {
  private static final String P = LineLogConfig.PREFIX;

  private static LineLogConfig config(Map<String, String> values) {
    return LineLogConfig.of(values::get);
  }

  @Test
  void clockIsWhatSimpleDateFormatWritesInTheDefaultZone() {
    SimpleDateFormat reference = new SimpleDateFormat(LineWriter.CLOCK_PATTERN);
    TimeZone zone = TimeZone.getDefault();
    for (long t :
        new long[] {0L, 1_796_438_575_042L, 1_700_000_000_999L, 86_399_999L, -1L, 1_234L}) {
      StringBuilder line = new StringBuilder();
      LineWriter.appendClock(line, t + zone.getOffset(t));
      assertEquals(reference.format(new Date(t)), line.toString(), "at " + t);
    }
  }

  @Test
  void clockInAnotherZone() {
    StringBuilder line = new StringBuilder();
    // 23:59:59.999 UTC is 01:59:59.999 at +2 h, 22:29:59.999 at -1.5 h
    long t = 86_399_999L;
    LineWriter.appendClock(line, t + 2 * 3_600_000L);
    line.append(' ');
    LineWriter.appendClock(line, t - 90 * 60_000L);
    assertEquals("01:59:59.999 22:29:59.999", line.toString());
  }

  @Test
  void defaultsAreSlf4jSimplesAndTheLevelIsTheNamesLongestPrefix() {
    LineLogConfig none = config(Map.of());
    assertEquals(LineLogConfig.INFO, none.defaultLevel());
    assertFalse(none.showDateTime());
    assertTrue(none.showThreadName());
    assertTrue(none.showLogName());
    assertFalse(none.showShortLogName());
    assertEquals("System.err", none.logFile());
    assertEquals("WARN", none.warnLevelString());

    LineLogConfig some =
        config(
            Map.of(
                P + "defaultLogLevel", "WARN",
                P + "log.io.netty", "error",
                P + "log.dev.fulcrum.core.repository.ModelManager", "off",
                P + "log.dev.fulcrum", "debug"));
    assertEquals(LineLogConfig.WARN, some.levelOf("com.example.Other"));
    assertEquals(LineLogConfig.ERROR, some.levelOf("io.netty.channel.Foo"));
    assertEquals(LineLogConfig.DEBUG, some.levelOf("dev.fulcrum.tools.serve.ServeCommand"));
    assertEquals(LineLogConfig.OFF, some.levelOf("dev.fulcrum.core.repository.ModelManager"));
    assertEquals(LineLogConfig.INFO, LineLogConfig.level("nonsense"));
    assertEquals(LineLogConfig.TRACE, LineLogConfig.level(" Trace "));
  }

  @Test
  void aLoggerNamedWithAFileOfItsOwnWritesThereAndAppends(@TempDir Path dir) throws Exception {
    Path shared = dir.resolve("log.txt");
    Path slow = dir.resolve("slow.log");
    Files.writeString(slow, "from before\n");
    LineLogConfig cfg =
        config(
            Map.of(
                P + "logFile", shared.toString(),
                P + "logFile.fulcrum.slow", slow.toString(),
                P + "showShortLogName", "true"));
    LineLoggerFactory factory = new LineLoggerFactory(cfg);
    factory.getLogger("fulcrum.slow").info("event=slow_request model=m");
    factory.getLogger("fulcrum.slow.detail").info("under it");
    factory.getLogger("dev.fulcrum.tools.serve.ServeCommand").info("elsewhere");
    List<String> own = Files.readAllLines(slow);
    assertEquals(3, own.size(), own.toString());
    assertEquals("from before", own.get(0));
    assertTrue(own.get(1).endsWith("INFO slow - event=slow_request model=m"), own.get(1));
    assertTrue(own.get(2).endsWith("INFO detail - under it"), own.get(2));
    List<String> rest = Files.readAllLines(shared);
    assertEquals(1, rest.size(), rest.toString());
    assertTrue(rest.get(0).endsWith("INFO ServeCommand - elsewhere"), rest.get(0));
  }

  @Test
  void linesHaveSlf4jSimplesFormat(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("log.txt");
    LineLogConfig cfg =
        config(
            Map.of(
                P + "logFile", file.toString(),
                P + "showDateTime", "true",
                P + "dateTimeFormat", "HH:mm:ss.SSS",
                P + "showShortLogName", "true",
                P + "log.quiet", "warn"));
    LineLoggerFactory factory = new LineLoggerFactory(cfg);
    Logger logger = factory.getLogger("dev.fulcrum.tools.serve.ServeCommand");
    logger.info("loading {} models from {}", 2, "demo/models");
    logger.warn("careful");
    logger.debug("not written");
    Logger quiet = factory.getLogger("quiet.Thing");
    quiet.info("not written either");
    quiet.error("failed", new IllegalStateException("boom"));
    List<String> lines = Files.readAllLines(file);
    String thread = Thread.currentThread().getName();
    assertTrue(
        lines
            .get(0)
            .matches(
                "\\d\\d:\\d\\d:\\d\\d\\.\\d\\d\\d \\["
                    + java.util.regex.Pattern.quote(thread)
                    + "\\] INFO ServeCommand - loading 2 models from demo/models"),
        lines.get(0));
    assertTrue(lines.get(1).endsWith("] WARN ServeCommand - careful"), lines.get(1));
    assertTrue(lines.get(2).endsWith("] ERROR Thing - failed"), lines.get(2));
    assertEquals("java.lang.IllegalStateException: boom", lines.get(3));
    assertTrue(lines.get(4).startsWith("\tat "), lines.get(4));
    assertEquals(factory.getLogger("quiet.Thing"), quiet);
  }

  @Test
  void withoutAPatternTheTimeIsMillisecondsSinceTheStartAndNamesAreFull(@TempDir Path dir)
      throws Exception {
    Path file = dir.resolve("log.txt");
    LineLogConfig cfg =
        config(
            Map.of(
                P + "logFile", file.toString(),
                P + "showDateTime", "true",
                P + "showThreadName", "false",
                P + "levelInBrackets", "true",
                P + "warnLevelString", "WARNING"));
    new LineLoggerFactory(cfg).getLogger("a.b.C").warn("x={}", 1);
    String line = Files.readAllLines(file).get(0);
    assertTrue(line.matches("\\d+ \\[WARNING\\] a\\.b\\.C - x=1"), line);
  }

  @Test
  void theProviderIsRegisteredForServiceLoader() {
    boolean found = false;
    for (SLF4JServiceProvider p : ServiceLoader.load(SLF4JServiceProvider.class)) {
      found |= p instanceof LineLogProvider;
    }
    assertTrue(found);
  }
}
