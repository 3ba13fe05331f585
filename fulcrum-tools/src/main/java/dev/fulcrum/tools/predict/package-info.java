/** {@code fulcrum predict}: a file of rows scored in process through the server's own path. */
@NullMarked
package dev.fulcrum.tools.predict;

import org.jspecify.annotations.NullMarked;
