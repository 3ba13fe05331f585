@NullMarked
package dev.fulcrum.runtime.onnx;

import org.jspecify.annotations.NullMarked;
