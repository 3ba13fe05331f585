/**
 * Triton's system shared memory extension: the server-wide registry of regions that map POSIX
 * shared memory objects ({@code /dev/shm/<key>}), and the inputs read from and outputs written to
 * them.
 */
@NullMarked
package dev.fulcrum.server.shm;

import org.jspecify.annotations.NullMarked;
