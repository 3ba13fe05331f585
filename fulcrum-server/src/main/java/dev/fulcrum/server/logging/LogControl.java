package dev.fulcrum.server.logging;

/**
 * The running process's logging, as Triton's logging extension reads and changes it: implemented by
 * the logging back end the process runs with (the {@code fulcrum} CLI's SLF4J provider), handed to
 * the HTTP and gRPC servers. A change applies to every logger at once, including those made before
 * it.
 *
 * <p>Concurrency: any thread; a change is visible to every thread once {@link #apply} returns.
 * {@link LogSettingsUpdate} changes the settings holding the control's monitor, so one instance
 * serves both ports.
 */
public interface LogControl {
  /** The settings in force. */
  LogSettings settings();

  /**
   * Puts {@code next} in force. Only the levels change: {@link LogSettings#logFile} and {@link
   * LogSettings#format} are those of {@link #settings} (the callers check that).
   *
   * @return the settings then in force
   */
  LogSettings apply(LogSettings next);
}
