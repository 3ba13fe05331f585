package dev.fulcrum.tools.log;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.ILoggerFactory;
import org.slf4j.Logger;

/**
 * One {@link LineLogger} per name, each with its level resolved when it is made (as slf4j-simple),
 * and its destination: the shared {@code logFile}, or a file of its own when the configuration
 * names one for it ({@link LineLogConfig#LOG_FILE_PREFIX}), one writer per such file.
 *
 * <p>Concurrency: any thread; the maps are concurrent and the config immutable.
 */
final class LineLoggerFactory implements ILoggerFactory {
  private final LineLogConfig config;
  private final LineWriter writer;
  private final LineLevels levels;
  private final ConcurrentMap<String, Logger> loggers = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, LineWriter> ownFiles = new ConcurrentHashMap<>();

  LineLoggerFactory(LineLogConfig config) {
    this.config = config;
    this.writer = new LineWriter(config);
    this.levels = new LineLevels(config);
  }

  /** The levels of every logger it made and will make, changeable while the process runs. */
  LineLevels levels() {
    return levels;
  }

  @Override
  public Logger getLogger(String name) {
    return loggers.computeIfAbsent(name, n -> new LineLogger(n, config, writerOf(n), levels));
  }

  private LineWriter writerOf(String name) {
    String file = config.logFileOf(name);
    return file == null
        ? writer
        : ownFiles.computeIfAbsent(file, f -> new LineWriter(config, f, true));
  }
}
