/** JMH microbenchmarks of the per-request codec paths; built only with {@code -Pjmh}. */
@org.jspecify.annotations.NullMarked
package dev.fulcrum.jmh;
