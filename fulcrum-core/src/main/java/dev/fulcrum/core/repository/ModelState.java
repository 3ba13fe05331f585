package dev.fulcrum.core.repository;

/**
 * The life of a model version: LOADING → WARMING → READY → UNLOADING → UNLOADED, and UNAVAILABLE
 * (with a reason) when a load or warm-up fails. The repository index shows Triton's names ({@link
 * #tritonName()}): WARMING is shown as LOADING, UNLOADED as UNAVAILABLE.
 */
public enum ModelState {
  LOADING,
  WARMING,
  READY,
  UNLOADING,
  UNLOADED,
  UNAVAILABLE;

  /** The state as Triton's repository index names it. */
  public String tritonName() {
    return switch (this) {
      case LOADING, WARMING -> "LOADING";
      case READY -> "READY";
      case UNLOADING -> "UNLOADING";
      case UNLOADED, UNAVAILABLE -> "UNAVAILABLE";
    };
  }
}
