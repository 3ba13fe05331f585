package dev.fulcrum.core.monitor;

/**
 * The prediction log's totals since start, for metrics.
 *
 * @param written lines written to the log's files
 * @param dropped lines dropped because the writer fell behind (its queue was full) or failed
 */
public record PredictionLogCounts(long written, long dropped) {}
