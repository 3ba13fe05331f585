package dev.fulcrum.core.error;

import com.google.errorprone.annotations.FormatMethod;
import com.google.errorprone.annotations.FormatString;
import java.util.Locale;
import java.util.Objects;

/**
 * A request that failed, with a transport-neutral {@link ErrorCode} and a client-facing message.
 */
public class InferenceException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;

  public InferenceException(ErrorCode code, String message) {
    super(message);
    this.code = Objects.requireNonNull(code, "code");
  }

  public InferenceException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = Objects.requireNonNull(code, "code");
  }

  public ErrorCode code() {
    return code;
  }

  @FormatMethod
  public static InferenceException invalid(@FormatString String format, Object... args) {
    return new InferenceException(
        ErrorCode.INVALID_ARGUMENT, String.format(Locale.ROOT, format, args));
  }

  @FormatMethod
  public static InferenceException notFound(@FormatString String format, Object... args) {
    return new InferenceException(ErrorCode.NOT_FOUND, String.format(Locale.ROOT, format, args));
  }

  @FormatMethod
  public static InferenceException unavailable(@FormatString String format, Object... args) {
    return new InferenceException(ErrorCode.UNAVAILABLE, String.format(Locale.ROOT, format, args));
  }

  public static InferenceException internal(String message, Throwable cause) {
    return new InferenceException(ErrorCode.INTERNAL, message, cause);
  }
}
