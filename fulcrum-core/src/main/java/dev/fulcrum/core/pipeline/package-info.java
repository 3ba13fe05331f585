/**
 * The pipeline SPI: per-request stages before and after a model's forward pass (tokenize, pool,
 * normalize, classify), implemented by fulcrum-pipelines and run by {@link
 * dev.fulcrum.core.InferenceService} around the scheduler.
 */
@org.jspecify.annotations.NullMarked
package dev.fulcrum.core.pipeline;
