package dev.fulcrum.tools.log;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.ILoggerFactory;
import org.slf4j.Logger;

/**
 * One {@link LineLogger} per name, each with its level resolved when it is made (as slf4j-simple).
 *
 * <p>Concurrency: any thread; the map is concurrent and the config immutable.
 */
final class LineLoggerFactory implements ILoggerFactory {
  private final LineLogConfig config;
  private final LineWriter writer;
  private final ConcurrentMap<String, Logger> loggers = new ConcurrentHashMap<>();

  LineLoggerFactory(LineLogConfig config) {
    this.config = config;
    this.writer = new LineWriter(config);
  }

  @Override
  public Logger getLogger(String name) {
    return loggers.computeIfAbsent(name, n -> new LineLogger(n, config, writer));
  }
}
