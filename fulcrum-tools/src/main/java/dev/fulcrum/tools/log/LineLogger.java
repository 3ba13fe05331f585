package dev.fulcrum.tools.log;

import org.jspecify.annotations.Nullable;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;

/**
 * One named logger: slf4j-simple's line ({@code time [thread] LEVEL Name - message}, each part as
 * configured), its level fixed when it is made.
 *
 * <p>Concurrency: any thread; immutable, the writer serializes the lines.
 */
final class LineLogger extends LegacyAbstractLogger {
  private static final long serialVersionUID = 1L;

  private final transient LineLogConfig config;
  private final transient LineWriter writer;
  private final int level;
  private final String shownName;

  LineLogger(String name, LineLogConfig config, LineWriter writer) {
    this.name = name;
    this.config = config;
    this.writer = writer;
    this.level = config.levelOf(name);
    this.shownName =
        config.showShortLogName()
            ? name.substring(name.lastIndexOf('.') + 1)
            : config.showLogName() ? name : "";
  }

  @Override
  public boolean isTraceEnabled() {
    return level <= LineLogConfig.TRACE;
  }

  @Override
  public boolean isDebugEnabled() {
    return level <= LineLogConfig.DEBUG;
  }

  @Override
  public boolean isInfoEnabled() {
    return level <= LineLogConfig.INFO;
  }

  @Override
  public boolean isWarnEnabled() {
    return level <= LineLogConfig.WARN;
  }

  @Override
  public boolean isErrorEnabled() {
    return level <= LineLogConfig.ERROR;
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
