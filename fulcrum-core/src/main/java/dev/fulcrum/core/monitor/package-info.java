/**
 * The monitoring SPI: how the core hands each successful request to a training-serving skew and
 * drift monitor (fulcrum-monitoring implements it), and the drift reports the transports render.
 */
@org.jspecify.annotations.NullMarked
package dev.fulcrum.core.monitor;
