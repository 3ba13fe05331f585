package dev.fulcrum.tools.log;

import org.jspecify.annotations.Nullable;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;

/**
 * One named logger: slf4j-simple's line ({@code time [thread] LEVEL Name - message}, each part as
 * configured), whose levels are its factory's {@link LineLevels}, which may change while it runs.
 *
 * <p>Concurrency: any thread; immutable, the writer serializes the lines.
 */
final class LineLogger extends LegacyAbstractLogger {
  private static final long serialVersionUID = 1L;

  private final transient LineLogConfig config;
  private final transient LineWriter writer;
  private final transient LineLevels levels;

  /** The level a key sets for this logger's name, or {@link LineLevels#NONE}. */
  private final int ownLevel;

  private final String shownName;

  LineLogger(String name, LineLogConfig config, LineWriter writer, LineLevels levels) {
    this.name = name;
    this.config = config;
    this.writer = writer;
    this.levels = levels;
    this.ownLevel = config.ownLevelOf(name);
    this.shownName =
        config.showShortLogName()
            ? name.substring(name.lastIndexOf('.') + 1)
            : config.showLogName() ? name : "";
  }

  @Override
  public boolean isTraceEnabled() {
    return levels.enabled(LineLogConfig.TRACE, ownLevel);
  }

  @Override
  public boolean isDebugEnabled() {
    return levels.enabled(LineLogConfig.DEBUG, ownLevel);
  }

  @Override
  public boolean isInfoEnabled() {
    return levels.enabled(LineLogConfig.INFO, ownLevel);
  }

  @Override
  public boolean isWarnEnabled() {
    return levels.enabled(LineLogConfig.WARN, ownLevel);
  }

  @Override
  public boolean isErrorEnabled() {
    return levels.enabled(LineLogConfig.ERROR, ownLevel);
  }

  @Override
  protected @Nullable String getFullyQualifiedCallerName() {
    return null;
  }

  @Override
  protected void handleNormalizedLoggingCall(
      Level eventLevel,
      @Nullable Marker marker,
      String messagePattern,
      @Nullable Object @Nullable [] arguments,
      @Nullable Throwable throwable) {
    StringBuilder line = new StringBuilder(64);
    if (config.showDateTime()) {
      writer.appendTime(line, System.currentTimeMillis());
    }
    if (config.showThreadName()) {
      line.append('[').append(Thread.currentThread().getName()).append("] ");
    }
    if (config.showThreadId()) {
      line.append("tid=").append(Thread.currentThread().threadId()).append(' ');
    }
    String levelName = eventLevel == Level.WARN ? config.warnLevelString() : eventLevel.toString();
    if (config.levelInBrackets()) {
      line.append('[').append(levelName).append(']');
    } else {
      line.append(levelName);
    }
    line.append(' ');
    if (!shownName.isEmpty()) {
      line.append(shownName).append(" - ");
    }
    if (marker != null) {
      line.append(' ').append(marker.getName()).append(' ');
    }
    line.append(MessageFormatter.basicArrayFormat(messagePattern, arguments));
    writer.write(line.toString(), throwable);
  }
}
