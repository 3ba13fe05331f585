package dev.fulcrum.core.error;

import com.google.errorprone.annotations.FormatMethod;
import com.google.errorprone.annotations.FormatString;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

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

  public InferenceException(ErrorCode code, String message, @Nullable Throwable cause) {
    super(message, cause);
    this.code = Objects.requireNonNull(code, "code");
  }

  private InferenceException(ErrorCode code, String message, boolean stackTrace) {
    super(message, null, true, stackTrace);
    this.code = Objects.requireNonNull(code, "code");
  }

  /**
   * A request refused under load (RESOURCE_EXHAUSTED: a full queue, or one that cannot meet its
   * latency objective): an expected answer, thousands a second in an overload, so no stack trace is
   * filled in. The trace would only name the admission that refused, and filling it walks the event
   * loop's whole stack on every refusal, on the path whose speed the SLO's early refusal is about
   * (issue #10: refused in under 5 ms). It is never logged with a trace either.
   */
  public static InferenceException exhausted(String message) {
    return new InferenceException(ErrorCode.RESOURCE_EXHAUSTED, message, false);
  }

  public ErrorCode code() {
    return code;
  }

  @FormatMethod
  public static InferenceException invalid(@FormatString String format, @Nullable Object... args) {
    return new InferenceException(
        ErrorCode.INVALID_ARGUMENT, String.format(Locale.ROOT, format, args));
  }

  @FormatMethod
  public static InferenceException notFound(@FormatString String format, @Nullable Object... args) {
    return new InferenceException(ErrorCode.NOT_FOUND, String.format(Locale.ROOT, format, args));
  }

  @FormatMethod
  public static InferenceException unavailable(
      @FormatString String format, @Nullable Object... args) {
    return new InferenceException(ErrorCode.UNAVAILABLE, String.format(Locale.ROOT, format, args));
  }

  public static InferenceException internal(String message, @Nullable Throwable cause) {
    return new InferenceException(ErrorCode.INTERNAL, message, cause);
  }

  /** Never null: every constructor takes a message. */
  @Override
  public String getMessage() {
    String message = super.getMessage();
    return message != null ? message : "";
  }
}
