package dev.fulcrum.core.repository;

/**
 * One row of the repository index: a model version's state and, when it is not ready, why.
 *
 * @param name model name
 * @param version version, or "" for a model that failed before its versions were known
 * @param state the state
 * @param reason why it is not ready ("" when ready)
 */
public record ModelVersionStatus(String name, String version, ModelState state, String reason) {}
