package dev.fulcrum.tools.log;

import org.slf4j.ILoggerFactory;
import org.slf4j.IMarkerFactory;
import org.slf4j.helpers.BasicMDCAdapter;
import org.slf4j.helpers.BasicMarkerFactory;
import org.slf4j.spi.MDCAdapter;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * SLF4J's provider for the {@code fulcrum} CLI (registered in {@code
 * META-INF/services/org.slf4j.spi.SLF4JServiceProvider}): slf4j-simple's lines and settings,
 * without slf4j-simple's {@code SimpleDateFormat}. slf4j-simple builds a {@code SimpleDateFormat}
 * for its {@code dateTimeFormat} when its first logger is made, which loads the JDK's CLDR locale
 * data (calendar, date and number symbols: ~0.04 s of CPU in a fresh JVM) on the main thread before
 * the server's first answer; {@link LineWriter} formats the configured {@code HH:mm:ss.SSS} itself.
 *
 * <p>Concurrency: SLF4J calls {@link #initialize} once, before any getter, on the thread that asks
 * for the first logger; the factory it makes is thread-safe.
 */
public final class LineLogProvider implements SLF4JServiceProvider {
  private final IMarkerFactory markers = new BasicMarkerFactory();
  private final MDCAdapter mdc = new BasicMDCAdapter();
  private ILoggerFactory loggers = name -> org.slf4j.helpers.NOPLogger.NOP_LOGGER;

  /** For {@link java.util.ServiceLoader}. */
  public LineLogProvider() {}

  @Override
  public ILoggerFactory getLoggerFactory() {
    return loggers;
  }

  @Override
  public IMarkerFactory getMarkerFactory() {
    return markers;
  }

  @Override
  public MDCAdapter getMDCAdapter() {
    return mdc;
  }

  @Override
  public String getRequestedApiVersion() {
    return "2.0.99";
  }

  @Override
  public void initialize() {
    loggers = new LineLoggerFactory(LineLogConfig.read());
  }
}
