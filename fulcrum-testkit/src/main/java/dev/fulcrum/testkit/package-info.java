@NullMarked
package dev.fulcrum.testkit;

import org.jspecify.annotations.NullMarked;
