/** Placeholder until the module has code. */
package dev.fulcrum.tools;
