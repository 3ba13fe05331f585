@NullMarked
package dev.fulcrum.core.config;

import org.jspecify.annotations.NullMarked;
