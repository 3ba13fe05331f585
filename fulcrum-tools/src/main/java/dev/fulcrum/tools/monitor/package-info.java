/** {@code fulcrum profile} (a baseline from training data) and {@code fulcrum skew-check}. */
@org.jspecify.annotations.NullMarked
package dev.fulcrum.tools.monitor;
