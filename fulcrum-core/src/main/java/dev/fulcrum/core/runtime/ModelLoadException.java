package dev.fulcrum.core.runtime;

/** A model that could not be loaded; the message says why and is shown to operators. */
public class ModelLoadException extends Exception {
  private static final long serialVersionUID = 1L;

  public ModelLoadException(String message) {
    super(message);
  }

  public ModelLoadException(String message, Throwable cause) {
    super(message, cause);
  }

  /** Never null: every constructor takes a message. */
  @Override
  public String getMessage() {
    String message = super.getMessage();
    return message != null ? message : "";
  }
}
