/**
 * Pipeline models: {@link dev.fulcrum.pipelines.TextPipelines} is the pipeline runtime the
 * repository asks for a pipeline model's stages (tokenize before the model, pool, normalize,
 * classify after it).
 */
@org.jspecify.annotations.NullMarked
package dev.fulcrum.pipelines;
