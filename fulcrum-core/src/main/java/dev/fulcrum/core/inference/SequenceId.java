package dev.fulcrum.core.inference;

import java.util.Objects;

/**
 * A request's {@code sequence_id} (Triton's correlation id): the sequence of a stateful model that
 * the request belongs to, a non-zero unsigned integer or a non-empty string, as the client sent it.
 * Two ids are the same sequence only when both are numbers or both strings ({@code 7} is not {@code
 * "7"}, as in Triton). Immutable.
 *
 * @param number the numeric id, when the client sent a number (non-zero); 0 for a string id
 * @param text the string id, when the client sent a string (non-empty); "" for a numeric id
 */
public record SequenceId(long number, String text) {
  public SequenceId {
    Objects.requireNonNull(text, "text");
    if ((number == 0) == text.isEmpty()) {
      throw new IllegalArgumentException("exactly one of a non-zero number or a non-empty text");
    }
  }

  /** A numeric id (non-zero). */
  public static SequenceId of(long number) {
    return new SequenceId(number, "");
  }

  /** A string id (non-empty). */
  public static SequenceId of(String text) {
    return new SequenceId(0, text);
  }

  /** Whether the client sent a string. */
  public boolean isText() {
    return number == 0;
  }

  /** The id as error messages and logs show it. */
  @Override
  public String toString() {
    return isText() ? text : Long.toUnsignedString(number);
  }
}
