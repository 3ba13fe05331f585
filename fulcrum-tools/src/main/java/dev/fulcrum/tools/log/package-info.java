/**
 * The CLI's log lines: an SLF4J provider that writes slf4j-simple's line format from slf4j-simple's
 * own settings ({@code simplelogger.properties}, {@code -Dorg.slf4j.simpleLogger.*}), with the
 * wall-clock time formatted without {@code SimpleDateFormat} (docs/PERFORMANCE.md, "Cold start",
 * session 21).
 */
@NullMarked
package dev.fulcrum.tools.log;

import org.jspecify.annotations.NullMarked;
