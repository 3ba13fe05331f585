/** {@code fulcrum embed}: a text pipeline over a file, in process, the server's code path. */
@org.jspecify.annotations.NullMarked
package dev.fulcrum.tools.embed;
