@NullMarked
package dev.fulcrum.tools.bench;

import org.jspecify.annotations.NullMarked;
