/**
 * Text files the commands read line by line ({@code fulcrum embed}'s input, {@code fulcrum profile
 * --text}'s sentences), decoded strictly as UTF-8 so that a bad line is named by its number.
 */
@NullMarked
package dev.fulcrum.tools.text;

import org.jspecify.annotations.NullMarked;
