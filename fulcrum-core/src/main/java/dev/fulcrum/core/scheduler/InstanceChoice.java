package dev.fulcrum.core.scheduler;

import java.util.Locale;

/**
 * Which idle instance of a model version the next pass goes to when more than one is idle (their
 * workers parked with nothing to run): the worker a new request wakes, and the instance a lone pass
 * borrows. With one instance there is no choice. Immutable.
 */
public enum InstanceChoice {
  /**
   * The idle instance whose last pass ended latest (last in, first out among idle instances): at
   * low load one instance runs every pass, so its weights, arena and thread stay in the caches; a
   * pass that arrives while it is busy wakes another, so under load every instance runs.
   */
  MOST_RECENT("most-recent"),

  /**
   * The idle instance whose last pass ended earliest (first in, first out): what one condition
   * shared by every worker gives, as before session 21. Requests that arrive one at a time
   * alternate between the instances, each finding the other's weights in the caches.
   */
  LONGEST_IDLE("longest-idle");

  /** The choice {@code serve} uses. */
  public static final InstanceChoice DEFAULT = MOST_RECENT;

  private final String word;

  InstanceChoice(String word) {
    this.word = word;
  }

  /** The name in configuration words: {@code most-recent} or {@code longest-idle}. */
  public String word() {
    return word;
  }

  /**
   * Parses a configuration word ({@code most-recent}, {@code longest-idle}; case and surrounding
   * blanks ignored).
   *
   * @throws IllegalArgumentException naming the accepted words
   */
  public static InstanceChoice parse(String word) {
    String w = word.strip().toLowerCase(Locale.ROOT);
    for (InstanceChoice c : values()) {
      if (c.word.equals(w)) {
        return c;
      }
    }
    throw new IllegalArgumentException(
        "instance choice must be most-recent or longest-idle, was '" + word + "'");
  }
}
