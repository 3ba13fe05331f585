/**
 * The steps of a pipeline, each on its own and free of the repository: a Hugging Face tokenizer,
 * pooling, normalization, softmax, top-k classification strings and standardization, on plain
 * arrays.
 */
@org.jspecify.annotations.NullMarked
package dev.fulcrum.pipelines.steps;
