package dev.fulcrum.core.error;

import com.google.errorprone.annotations.FormatMethod;
import com.google.errorprone.annotations.FormatString;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A request that failed, with a transport-neutral {@link ErrorCode} and a client-facing message.
 */
public class InferenceException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;

  /** See {@link #retryAfter()}. */
  private final @Nullable Duration retryAfter;

  public InferenceException(ErrorCode code, String message) {
    super(message);
    this.code = Objects.requireNonNull(code, "code");
    this.retryAfter = null;
  }

  public InferenceException(ErrorCode code, String message, @Nullable Throwable cause) {
    super(message, cause);
    this.code = Objects.requireNonNull(code, "code");
    this.retryAfter = null;
  }

  private InferenceException(
      ErrorCode code, String message, boolean stackTrace, @Nullable Duration retryAfter) {
    super(message, null, true, stackTrace);
    this.code = Objects.requireNonNull(code, "code");
    this.retryAfter = retryAfter;
  }

  /**
   * A request refused under load (RESOURCE_EXHAUSTED: a full queue, or one that cannot meet its
   * latency objective): an expected answer, thousands a second in an overload, so no stack trace is
   * filled in. The trace would only name the admission that refused, and filling it walks the event
   * loop's whole stack on every refusal, on the path whose speed the SLO's early refusal is about
   * (issue #10: refused in under 5 ms). It is never logged with a trace either.
   */
  public static InferenceException exhausted(String message) {
    return new InferenceException(ErrorCode.RESOURCE_EXHAUSTED, message, false, null);
  }

  /**
   * As {@link #exhausted(String)}, with how long the refused request would have waited to be served
   * ({@link #retryAfter()}), or null when the server cannot tell.
   */
  public static InferenceException exhausted(String message, @Nullable Duration retryAfter) {
    return new InferenceException(ErrorCode.RESOURCE_EXHAUSTED, message, false, retryAfter);
  }

  public ErrorCode code() {
    return code;
  }

  /**
   * For a refusal under load: when a retry could be served, as the scheduler estimates it from its
   * queue and pass times (100 ms to 10 s); transports send it as {@code Retry-After} and {@code
   * retry-after-ms} (HTTP) or {@code grpc-retry-pushback-ms} (gRPC). Null for every other failure,
   * and for a refusal whose end the server cannot tell: retrying a client's mistake cannot help.
   */
  public @Nullable Duration retryAfter() {
    return retryAfter;
  }

  /** {@link ErrorCode#UNSUPPORTED_MEDIA_TYPE} with a formatted message. */
  @FormatMethod
  public static InferenceException unsupportedMediaType(
      @FormatString String format, @Nullable Object... args) {
    return new InferenceException(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE, String.format(Locale.ROOT, format, args));
  }

  /**
   * A client's text as a message may quote it: control characters as {@code ?} (no forged log
   * lines), at most 200 characters and {@code ...}.
   */
  public static String shown(String text) {
    String printable = text.replaceAll("\\p{Cntrl}", "?");
    return printable.length() > 200 ? printable.substring(0, 200) + "..." : printable;
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

  @FormatMethod
  public static InferenceException failedPrecondition(
      @FormatString String format, @Nullable Object... args) {
    return new InferenceException(
        ErrorCode.FAILED_PRECONDITION, String.format(Locale.ROOT, format, args));
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
