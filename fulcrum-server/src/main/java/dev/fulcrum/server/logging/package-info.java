/**
 * Triton's logging extension ({@code GET|POST v2/logging}, gRPC {@code LogSettings}): the log
 * settings of the running server, read and changed through {@link
 * dev.fulcrum.server.logging.LogControl}, which the logging back end the process runs with
 * implements (the CLI wires its own); the server knows no logging back end.
 */
@NullMarked
package dev.fulcrum.server.logging;

import org.jspecify.annotations.NullMarked;
