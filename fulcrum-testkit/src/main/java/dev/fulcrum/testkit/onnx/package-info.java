@NullMarked
package dev.fulcrum.testkit.onnx;

import org.jspecify.annotations.NullMarked;
