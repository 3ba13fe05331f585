/**
 * {@code fulcrum tune}: sweeps a model's batching, instance and thread knobs, measures each
 * configuration with {@code fulcrum bench}'s load machinery, and recommends one. The search ({@link
 * dev.fulcrum.tools.tune.Search}, {@link dev.fulcrum.tools.tune.Frontier}) never measures: it asks
 * a {@link dev.fulcrum.tools.tune.TrialRunner}, which is the server in production and a synthetic
 * landscape in tests.
 */
@NullMarked
package dev.fulcrum.tools.tune;

import org.jspecify.annotations.NullMarked;
