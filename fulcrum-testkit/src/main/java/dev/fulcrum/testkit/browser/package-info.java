/** Headless Chromium for browser tests of the pages Fulcrum serves. */
@NullMarked
package dev.fulcrum.testkit.browser;

import org.jspecify.annotations.NullMarked;
