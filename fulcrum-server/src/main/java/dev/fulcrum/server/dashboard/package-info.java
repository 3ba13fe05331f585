/**
 * The built-in dashboard's server side: {@link dev.fulcrum.server.dashboard.DashboardFeed} samples
 * every model version once a second, keeps the last five minutes in bounded rings and hands one
 * serialized frame per tick to its subscribers (the REST port's server-sent-event streams). Other
 * features plug their panels in through {@link dev.fulcrum.server.dashboard.DashboardSource}.
 */
@org.jspecify.annotations.NullMarked
package dev.fulcrum.server.dashboard;
