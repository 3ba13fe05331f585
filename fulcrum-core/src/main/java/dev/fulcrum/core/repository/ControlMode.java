package dev.fulcrum.core.repository;

import java.util.Locale;

/** How models are loaded and unloaded after startup, as Triton's {@code --model-control-mode}. */
public enum ControlMode {
  /** Everything is loaded at startup; the repository API cannot load or unload. */
  NONE,
  /** Everything is loaded at startup, then the folders are re-scanned every few seconds. */
  POLL,
  /** Only the models named at startup are loaded; the repository API loads and unloads. */
  EXPLICIT;

  /** Parses {@code none}, {@code poll} or {@code explicit} (any case). */
  public static ControlMode parse(String s) {
    return valueOf(s.trim().toUpperCase(Locale.ROOT));
  }
}
