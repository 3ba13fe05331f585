@NullMarked
package dev.fulcrum.core.repository;

import org.jspecify.annotations.NullMarked;
