package dev.fulcrum.core.config;

import java.nio.file.Path;

/**
 * A model configuration that is wrong; the message names the file (by its last names, {@link
 * ShownPath}, as clients may read it) and the field.
 */
public class ConfigException extends Exception {
  private static final long serialVersionUID = 1L;

  public ConfigException(Path file, String field, String problem) {
    super(
        ShownPath.of(file)
            + ": "
            + (field == null || field.isEmpty() ? "" : "field '" + field + "': ")
            + problem);
  }

  public ConfigException(Path file, String field, String problem, Throwable cause) {
    super(
        ShownPath.of(file)
            + ": "
            + (field == null || field.isEmpty() ? "" : "field '" + field + "': ")
            + problem,
        cause);
  }

  /** Never null: every constructor takes a message. */
  @Override
  public String getMessage() {
    String message = super.getMessage();
    return message != null ? message : "";
  }
}
