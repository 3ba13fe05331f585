package dev.fulcrum.core.repository;

/** The life of a model version, with Triton's state names. */
public enum ModelState {
  LOADING,
  READY,
  UNAVAILABLE,
  UNLOADING
}
