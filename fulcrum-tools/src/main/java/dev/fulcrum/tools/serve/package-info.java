@NullMarked
package dev.fulcrum.tools.serve;

import org.jspecify.annotations.NullMarked;
