@NullMarked
package dev.fulcrum.testkit.demo;

import org.jspecify.annotations.NullMarked;
