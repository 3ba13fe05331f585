/**
 * The offline API: a pipeline model run in process through the same repository, stages, batcher and
 * engine as the server, for training and indexing jobs.
 */
@org.jspecify.annotations.NullMarked
package dev.fulcrum.pipelines.offline;
