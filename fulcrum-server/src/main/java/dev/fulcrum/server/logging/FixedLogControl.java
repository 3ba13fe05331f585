package dev.fulcrum.server.logging;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;

/**
 * The log settings of a server whose logging back end is not Fulcrum's (the server embedded in
 * another program, tests): read as INFO and above on the console, and not changeable (501), as
 * Triton answers on a build without logging.
 *
 * <p>Stateless: any thread.
 */
public final class FixedLogControl implements LogControl {
  /** The one instance. */
  public static final FixedLogControl INSTANCE = new FixedLogControl();

  private static final LogSettings SETTINGS =
      new LogSettings("", true, true, true, 0, LogSettings.DEFAULT_FORMAT);

  private FixedLogControl() {}

  @Override
  public LogSettings settings() {
    return SETTINGS;
  }

  @Override
  public LogSettings apply(LogSettings next) {
    throw new InferenceException(
        ErrorCode.UNIMPLEMENTED,
        "the log settings cannot be changed: this server does not run with the fulcrum CLI's"
            + " logging, whose levels the logging extension changes");
  }
}
