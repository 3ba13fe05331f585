@NullMarked
package dev.fulcrum.tools;

import org.jspecify.annotations.NullMarked;
